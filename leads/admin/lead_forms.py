"""The lead admin's filter, forms and history inlines."""

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm

from config.admin import HistoryInline
from leads.admin.displays import CONSENT_SHORT
from leads.models import (
    LEAD_STATUS_TRANSITIONS,
    Assignment,
    ConsentPurpose,
    ConsentState,
    Lead,
    LeadStatus,
    SlaEvent,
    Touchpoint,
)
from leads.selectors import sales_users


class ConsentListFilter(admin.SimpleListFilter):
    title = "consent"
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return [
            (f"{purpose}:{state}", f"{CONSENT_SHORT[purpose]}: {state_label.lower()}")
            for purpose in ConsentPurpose.values
            for state, state_label in ConsentState.choices
        ]

    def queryset(self, request, queryset):
        if not self.value() or ":" not in self.value():
            return queryset
        purpose, state = self.value().split(":", 1)
        if purpose not in ConsentPurpose.values or state not in ConsentState.values:
            return queryset
        return queryset.filter(**{f"consents__{purpose}": state})


class LeadActionForm(ActionForm):
    owner = forms.ModelChoiceField(
        queryset=None, required=False, label="Owner (for “Assign”)", empty_label="Choose…"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = sales_users().order_by("username")


class LeadChangeForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = [
            "name",
            "company",
            "phone",
            "country",
            "segment",
            "preferred_tender",
            "status",
            "owner",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            self.fields["owner"].queryset = sales_users().order_by("username")
        if "status" in self.fields and self.instance.status != LeadStatus.ERASED:
            # Erasure is an action (it removes the personal data), not a status to pick.
            self.fields["status"].choices = [
                choice for choice in LeadStatus.choices if choice[0] != LeadStatus.ERASED
            ]
        if "phone" in self.fields:
            self.fields["phone"].max_length = 32
            self.fields["phone"].widget.attrs["maxlength"] = 32
        if "country" in self.fields:
            self.fields["country"].widget.attrs["maxlength"] = 2

    def clean(self):
        # The service is the one judge of a valid edit; show its messages on the fields.
        cleaned = super().clean()
        instance = self.instance
        if instance.pk is None:
            return cleaned
        if "status" in self.changed_data:
            allowed = LEAD_STATUS_TRANSITIONS.get(instance.status, set())
            if cleaned.get("status") not in allowed | {instance.status}:
                self.add_error("status", "A lead cannot move to that status from here.")
        return cleaned


class TouchpointInline(HistoryInline):
    model = Touchpoint
    fields = [
        "created_at",
        "source_form",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer",
        "landing_page",
        "gclid",
        "fbclid",
        "risk_score",
    ]
    ordering = ["-created_at"]
    show_change_link = True

    def has_change_permission(self, request, obj=None):
        return False


class AssignmentInline(HistoryInline):
    model = Assignment
    fk_name = "lead"
    fields = ["assigned_at", "owner", "assigned_by", "rule", "reason"]
    verbose_name_plural = "ownership history"

    def has_change_permission(self, request, obj=None):
        return False


class SlaEventInline(HistoryInline):
    model = SlaEvent
    fields = ["level", "action", "created_at", "detail", "notified_at"]
    verbose_name_plural = "SLA escalations"

    def has_change_permission(self, request, obj=None):
        return False
