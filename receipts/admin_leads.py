"""What the leads admin says about receipts: erasing a lead keeps them.

Added to LeadAdmin from ReceiptsConfig.ready(): leads never imports receipts (DESIGN.md §2b).
"""

from __future__ import annotations

from django.contrib import admin

from receipts.selectors import lead_documents


@admin.display(description="Receipts kept on erasure")
def financial_records_kept(modeladmin, lead) -> str:
    receipts = lead_documents(lead=lead)
    count = receipts.count()
    notes = sum(r.credit_notes.count() for r in receipts)
    if not count:
        return "No receipts."
    return (
        f"{count} receipt(s) and {notes} credit note(s). Erasure keeps them exactly as issued "
        "(name and email included): tax law requires keeping them for RECEIPTS_RETENTION_YEARS "
        "years (GDPR Art. 17(3)(b))."
    )


def lead_admin_extend() -> None:
    from leads.admin import LeadAdmin

    if "financial_records_kept" in LeadAdmin.readonly_fields:
        return
    LeadAdmin.financial_records_kept = financial_records_kept
    LeadAdmin.readonly_fields = [*LeadAdmin.readonly_fields, "financial_records_kept"]
    fieldsets = list(LeadAdmin.fieldsets or [])
    if fieldsets:
        fieldsets.append(("Receipts (kept on erasure)", {"fields": ["financial_records_kept"]}))
        LeadAdmin.fieldsets = fieldsets
