"""Reads for the portal, the admin and downloads."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.urls import reverse

from checkout.models import Notification
from config.money import money_format
from receipts.delivery import PAYMENT_OUTCOME_KINDS
from receipts.models import CreditNote, Receipt

Document = Receipt | CreditNote


def portal_documents(*, email: str, token: str) -> list[dict]:
    """The buyer's stored receipts and credit notes, newest first, each with its download link
    (the portal's PORTAL_RECEIPTS_SELECTOR). The link carries the portal token: every download
    checks it again, and the document's owner, before sending a byte."""
    email = email.strip().lower()
    documents: list[Document] = [
        *Receipt.objects.filter(buyer_email=email, status=Receipt.Status.STORED),
        *CreditNote.objects.filter(buyer_email=email, status=Receipt.Status.STORED),
    ]
    documents.sort(key=lambda d: (d.issued_at, d.number), reverse=True)
    return [
        {
            "number": d.number,
            "label": "Credit note" if isinstance(d, CreditNote) else "Receipt",
            "issued_at": d.issued_at,
            "total": money_format(d.total, d.currency),
            "url": reverse("receipts:portal-download", kwargs={"token": token, "number": d.number}),
        }
        for d in documents
    ]


def buyer_document(*, email: str, number: str) -> Document | None:
    """The stored document `number` if it belongs to `email`, else None (whether it exists or
    not: a link for one document never opens another, and says nothing about others)."""
    email = email.strip().lower()
    model = CreditNote if number.startswith(f"{settings.RECEIPTS_CREDIT_NOTE_SERIES}-") else Receipt
    return model.objects.filter(
        number=number, buyer_email=email, status=Receipt.Status.STORED
    ).first()


def receipt_credited_total(*, receipt: Receipt) -> int:
    return receipt.credit_notes.aggregate(total=Sum("total"))["total"] or 0


def document_delivery_summary(document: Document) -> str:
    """How the document's delivery stands, in a few words for finance."""
    notification = document.delivered_by
    if notification is not None:
        when = notification.bounced_at or notification.sent_at
        return f"{notification.get_status_display()} to {notification.to_email}" + (
            f" on {when:%Y-%m-%d %H:%M}" if when else ""
        )
    if document.status != Receipt.Status.STORED:
        return "Waiting for the PDF"
    if isinstance(document, CreditNote):
        kinds, payment_id = {Notification.Kind.REFUND_ISSUED}, document.receipt.payment_id
    else:
        kinds, payment_id = PAYMENT_OUTCOME_KINDS, document.payment_id
    pending = (
        Notification.objects.filter(payment_id=payment_id)
        .filter(kind__in=[*kinds, Notification.Kind.RECEIPT, Notification.Kind.CREDIT_NOTE])
        .order_by("-created_at")
        .first()
    )
    if pending is None:
        return "Not sent yet"
    text = f"{pending.get_status_display()} ({pending.get_kind_display().lower()})"
    if pending.attempts and pending.last_error:
        text += f", {pending.attempts} attempt(s): {pending.last_error[:80]}"
    return text


def retention_until(document: Document) -> date:
    """The last day the document must be kept: the end of the year of issue plus the
    retention period (tax law counts from the end of the calendar year)."""
    return date(document.year + settings.RECEIPTS_RETENTION_YEARS, 12, 31)


def lead_documents(*, lead) -> QuerySet[Receipt]:
    return Receipt.objects.filter(order__lead=lead)


def receipts_delivery_failed() -> QuerySet[Receipt]:
    """Receipts that did not reach the buyer: the email that carried them bounced, or none
    carried them and the email meant to (the payment's, or the receipt's own) failed for good.
    Finance resends them or checks the address."""
    failed_email = Notification.objects.filter(
        payment_id=OuterRef("payment_id"),
        kind__in=[*PAYMENT_OUTCOME_KINDS, Notification.Kind.RECEIPT],
        status=Notification.Status.FAILED,
    )
    bad = [Notification.Status.FAILED, Notification.Status.BOUNCED]
    return Receipt.objects.annotate(email_failed=Exists(failed_email)).filter(
        Q(delivered_by__status__in=bad) | Q(delivered_by__isnull=True, email_failed=True)
    )
