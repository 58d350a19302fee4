"""Who gets leads: sales owners with their absences, and routing rules."""

from django import forms
from django.contrib import admin

from leads.models import OutOfOffice, RoutingRule, SalesOwner
from leads.selectors import sales_owner_open_leads, sales_users


class OutOfOfficeInline(admin.TabularInline):
    model = OutOfOffice
    fk_name = "owner"
    extra = 1
    fields = ["starts_at", "ends_at", "delegate", "note"]


class SalesOwnerForm(forms.ModelForm):
    class Meta:
        model = SalesOwner
        fields = ["user", "capacity", "team_lead", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A view-only user gets these fields read-only, so they may be absent.
        if "user" in self.fields:
            self.fields["user"].queryset = sales_users().order_by("username")
        if "team_lead" in self.fields:
            self.fields["team_lead"].queryset = (
                self.fields["team_lead"].queryset.filter(is_staff=True).order_by("username")
            )


@admin.register(SalesOwner)
class SalesOwnerAdmin(admin.ModelAdmin):
    form = SalesOwnerForm
    list_display = ["__str__", "capacity", "open_leads", "team_lead", "is_active"]
    list_filter = ["is_active"]
    inlines = [OutOfOfficeInline]

    @admin.display(description="Open leads")
    def open_leads(self, owner: SalesOwner):
        return sales_owner_open_leads(owner=owner)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "priority", "strategy", "countries", "segment", "is_active"]
    list_editable = ["priority", "is_active"]
    list_filter = ["strategy", "is_active"]
    filter_horizontal = ["members"]
    readonly_fields = ["turns"]
