"""Finance's receipts: read-only documents (never added, changed or deleted here), their PDFs,
history and delivery, resend, crediting a lost dispute, exports, and buyers' billing details.

Every document view, download and action needs a receipts permission (Finance and Admin have
them; Sales has none: config/staff.py). Staff downloads are audit logged.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from config.admin import HistoryInline, MoneyAdminMixin
from config.audit import audit_log_record
from config.celery import enqueue_on_commit
from config.money import money_format
from receipts.delivery import document_resend
from receipts.models import (
    BuyerBillingDetails,
    CreditNote,
    Receipt,
    ReceiptEvent,
    ReceiptExport,
)
from receipts.selectors import (
    document_delivery_summary,
    receipt_credited_total,
    receipts_delivery_failed,
    retention_until,
)
from receipts.services.export import ExportRefused, receipt_export_request
from receipts.services.issue import CreditNoteRefused, credit_note_for_dispute
from receipts.views import document_response

RETENTION_NOTE = (
    "Kept until {until}: tax law requires it (RECEIPTS_RETENTION_YEARS). Receipts and credit "
    "notes cannot be deleted, and erasing the buyer's lead keeps them as issued."
)


class ReceiptEventInline(HistoryInline):
    model = ReceiptEvent
    fk_name = "receipt"
    fields = ["created_at", "cause", "credit_note", "from_status", "to_status", "actor", "detail"]


class CreditNoteInline(HistoryInline):
    model = CreditNote
    fields = ["number", "issued_at", "total", "currency", "reason", "status"]
    show_change_link = True


class DocumentAdmin(MoneyAdminMixin, admin.ModelAdmin):
    """What receipts and credit notes share: read-only, never deleted, downloadable."""

    list_display = [
        "number", "issued_at", "buyer_name", "total_display", "status", "delivery",
    ]  # fmt: skip
    list_filter = ["status", "currency"]
    date_hierarchy = "issued_at"
    list_per_page = 50
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.money_readonly(
            [f.name for f in self.model._meta.fields] + ["download", "delivery", "kept_until"]
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Total")
    def total_display(self, document):
        return money_format(document.total, document.currency)

    @admin.display(description="Delivery")
    def delivery(self, document):
        return document_delivery_summary(document)

    @admin.display(description="Retention")
    def kept_until(self, document):
        return RETENTION_NOTE.format(until=retention_until(document).isoformat())

    @admin.display(description="PDF")
    def download(self, document):
        if not document.pdf_path:
            return "Not stored yet"
        url = reverse(
            f"admin:receipts_{self.model._meta.model_name}_pdf", kwargs={"pk": document.pk}
        )
        return format_html(
            '<a href="{}">Download {}</a> · sha256 {}', url, document.filename, document.pdf_sha256
        )

    def get_urls(self):
        name = f"receipts_{self.model._meta.model_name}_pdf"
        return [
            path("<int:pk>/pdf/", self.admin_site.admin_view(self.pdf_view), name=name),
            *super().get_urls(),
        ]

    def pdf_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = get_object_or_404(self.model, pk=pk, status=Receipt.Status.STORED)
        audit_log_record(
            actor=request.user,
            action="receipts.downloaded",
            target=document,
            detail={"number": document.number},
        )
        return document_response(document)

    @admin.action(description="Send again by email to the buyer", permissions=["change"])
    def resend(self, request, queryset):
        sent = 0
        for document in queryset:
            notification = document_resend(document=document, actor=request.user)
            if notification is None:
                self.message_user(
                    request,
                    f"{document}: no order, so no address to send it to. Download it instead.",
                    messages.WARNING,
                )
                continue
            sent += 1
        if sent:
            self.message_user(request, f"{sent} document(s) queued to be sent again.")


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failed", "Failed or bounced")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(pk__in=receipts_delivery_failed().values("pk"))
        return queryset


@admin.register(Receipt)
class ReceiptAdmin(DocumentAdmin):
    list_filter = [*DocumentAdmin.list_filter, DeliveryFilter]
    list_display = [*DocumentAdmin.list_display, "credited"]
    search_fields = [
        "number", "buyer_email", "buyer_name", "order__reference",
        "payment__stripe_payment_intent_id",
    ]  # fmt: skip
    list_select_related = ["delivered_by", "payment"]
    inlines = [CreditNoteInline, ReceiptEventInline]
    actions = [*DocumentAdmin.actions, "credit_lost_dispute"]
    fieldsets = [
        (None, {"fields": ["number", "issued_at", "status", "download", "kept_until"]}),
        ("Buyer and amounts", {"fields": ["buyer_name", "buyer_email", "currency", "net", "tax",
                                          "total"]}),
        ("Payment", {"fields": ["payment", "order"]}),
        ("Delivery", {"fields": ["delivery", "delivered_by", "render_attempts", "last_error"]}),
        ("Frozen snapshot", {"classes": ["collapse"], "fields": ["snapshot"]}),
    ]  # fmt: skip

    @admin.display(description="Credited")
    def credited(self, receipt):
        total = receipt_credited_total(receipt=receipt)
        return money_format(total, receipt.currency) if total else "—"

    @admin.action(
        description="Credit the lost dispute (issue a credit note)", permissions=["change"]
    )
    def credit_lost_dispute(self, request, queryset):
        from payments.models import Dispute

        for receipt in queryset:
            lost = Dispute.objects.filter(payment_id=receipt.payment_id, status=Dispute.Status.LOST)
            if not lost.exists():
                self.message_user(request, f"{receipt}: no lost dispute.", messages.WARNING)
                continue
            for dispute in lost:
                try:
                    note = credit_note_for_dispute(dispute_id=dispute.pk, actor=request.user)
                except CreditNoteRefused as exc:
                    self.message_user(request, f"{receipt}: {exc}", messages.WARNING)
                    continue
                from receipts.tasks import document_render_task

                enqueue_on_commit(document_render_task, "credit_note", note.pk)
                self.message_user(request, f"{receipt}: credit note {note.number} issued.")


@admin.register(CreditNote)
class CreditNoteAdmin(DocumentAdmin):
    list_display = [*DocumentAdmin.list_display, "receipt"]
    search_fields = ["number", "buyer_email", "buyer_name", "receipt__number"]
    list_select_related = ["delivered_by", "receipt"]
    fieldsets = [
        (None, {"fields": ["number", "issued_at", "status", "download", "kept_until"]}),
        ("Corrects", {"fields": ["receipt", "refund", "dispute", "reason", "issued_by"]}),
        ("Buyer and amounts", {"fields": ["buyer_name", "buyer_email", "currency", "net", "tax",
                                          "total"]}),
        ("Delivery", {"fields": ["delivery", "delivered_by", "render_attempts", "last_error"]}),
        ("Frozen snapshot", {"classes": ["collapse"], "fields": ["snapshot"]}),
    ]  # fmt: skip


class ExportForm(forms.ModelForm):
    class Meta:
        model = ReceiptExport
        fields = ["date_from", "date_to"]
        help_texts = {"date_to": "Included. Dates are in the seller's time zone."}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return cleaned


@admin.register(ReceiptExport)
class ReceiptExportAdmin(admin.ModelAdmin):
    """Ask for an export (a date range), watch its progress, download the ZIP."""

    form = ExportForm
    list_display = ["__str__", "status", "progress", "requested_by", "created_at", "file"]
    list_filter = ["status"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in self.model._meta.fields] + ["progress", "file"]

    @admin.display(description="Progress")
    def progress(self, export):
        total = export.documents_total
        done = export.documents_done
        if export.status == ReceiptExport.Status.DONE:
            return f"{done} documents"
        if not total:
            return "Starting…" if export.status != ReceiptExport.Status.FAILED else export.error
        return format_html(
            '<progress value="{}" max="{}"></progress> {} of {}', done, total, done, total
        )

    @admin.display(description="File")
    def file(self, export):
        if export.status != ReceiptExport.Status.DONE:
            return "—"
        url = reverse("admin:receipts_receiptexport_download", kwargs={"pk": export.pk})
        return format_html('<a href="{}">Download {}</a>', url, export.filename)

    def save_model(self, request, obj, form, change):
        try:
            export = receipt_export_request(
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                actor=request.user,
            )
        except ExportRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = export.pk
        self.message_user(
            request, "The export is being built. This page shows its progress; reload it."
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="receipts_receiptexport_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        from django.http import FileResponse

        from receipts.services.production import documents_storage

        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(ReceiptExport, pk=pk, status=ReceiptExport.Status.DONE)
        audit_log_record(actor=request.user, action="receipts.export_downloaded", target=export)
        response = FileResponse(
            documents_storage().open(export.file_path, "rb"),
            as_attachment=True,
            filename=export.filename,
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store, private"
        return response


@admin.register(BuyerBillingDetails)
class BuyerBillingDetailsAdmin(admin.ModelAdmin):
    list_display = ["email", "company", "vat_id", "language", "time_zone", "updated_at"]
    search_fields = ["email", "company", "vat_id"]

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("receipts.delete_buyerbillingdetails")
