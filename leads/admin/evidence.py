"""Consent evidence in the admin: records and touchpoints read-only for everyone, and consent
wording published as new versions, never edited."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from leads.models import ConsentRecord, ConsentText, Touchpoint
from leads.services import consent_text_publish


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "sequence", "purpose", "decision", "method", "ip"]
    list_filter = ["purpose", "decision", "method"]
    search_fields = ["lead__email", "record_hash"]
    list_select_related = ["lead"]
    date_hierarchy = "created_at"


@admin.register(Touchpoint)
class TouchpointAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "utm_source", "utm_medium", "utm_campaign", "referrer"]
    list_filter = ["utm_source", "utm_medium", "source_form"]
    search_fields = ["lead__email", "utm_campaign", "gclid", "fbclid"]
    list_select_related = ["lead"]


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """New wording is a new version; old versions stay as they were shown."""

    list_display = ["purpose", "version", "created_at", "sha256"]
    list_filter = ["purpose"]
    fields = ["purpose", "text", "version", "sha256", "created_at", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        base = ["version", "sha256", "created_at", "created_by"]
        return base if obj is None else ["purpose", "text", *base]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        published = consent_text_publish(
            purpose=form.cleaned_data["purpose"], text=form.cleaned_data["text"], actor=request.user
        )
        obj.pk = published.pk
        obj.version = published.version
