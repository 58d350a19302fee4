"""Receipts and credit notes reach the buyer through checkout's message log (one email per
event, with its document attached), never through a mail system of their own.

- `notification_attachments` is checkout's attachments provider
  (settings.NOTIFICATION_ATTACHMENTS_PROVIDER): asked when an email about a payment is sent, it
  names the stored receipt or credit note that goes with it, or says one is still being made
  (the email then waits for it, up to NOTIFICATION_ATTACHMENT_WAIT_SECONDS). Storing a document
  tells checkout to send what waited (receipts.services.transitions).
- `document_delivery_record` runs when checkout reports an email sent or bounced: the
  documents it carried point at it (`delivered_by`) and their history says so.
- `documents_follow_up` sends a document on its own (a RECEIPT or CREDIT_NOTE notification)
  when it missed its payment's email: it was made after the deadline, or its payment had no
  email (a receipt for a payment under a risk check nobody has decided yet).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkout.models import Notification
from checkout.notifications import (
    NotificationAttachment,
    NotificationAttachments,
    notification_schedule,
)
from config.audit import audit_log_record
from payments.models import PAID_STATUSES, Refund
from receipts.models import CreditNote, Receipt, ReceiptEvent
from receipts.services.production import documents_storage

logger = logging.getLogger(__name__)

_N = Notification.Kind
# What the buyer is told when a payment succeeds: the receipt goes with it.
PAYMENT_OUTCOME_KINDS = {
    _N.PAYMENT_CONFIRMED,
    _N.PAYMENT_UNDER_REVIEW,
    _N.BALANCE_DUE,
    _N.OVERPAYMENT,
    _N.DUPLICATE_PAYMENT,
    _N.PAYMENT_ON_CANCELED_ORDER,
}
# Follow-ups only for documents stored within this window (older ones predate the portal's
# emails or were handled by staff).
FOLLOW_UP_WINDOW = timedelta(days=30)


def document_key(document: Receipt | CreditNote) -> str:
    return f"{'credit_note' if isinstance(document, CreditNote) else 'receipt'}:{document.pk}"


def document_from_key(key: str) -> Receipt | CreditNote | None:
    kind, _, pk = str(key).partition(":")
    model = {"receipt": Receipt, "credit_note": CreditNote}.get(kind)
    if model is None or not pk.isdigit():
        return None
    return model.objects.filter(pk=int(pk)).first()


def _label(document: Receipt | CreditNote) -> str:
    return f"{'Credit note' if isinstance(document, CreditNote) else 'Receipt'} {document.number}"


def document_attachment(document: Receipt | CreditNote) -> NotificationAttachment:
    with documents_storage().open(document.pdf_path, "rb") as f:
        content = f.read()
    return NotificationAttachment(
        document=document_key(document),
        filename=document.filename,
        content=content,
        label=_label(document),
        sha256=document.pdf_sha256,
    )


def _attach(documents: list[Receipt | CreditNote]) -> NotificationAttachments:
    stored = [d for d in documents if d.status == Receipt.Status.STORED]
    return NotificationAttachments(
        files=[document_attachment(d) for d in stored], waiting=len(stored) < len(documents)
    )


def notification_attachments(*, notification: Notification) -> NotificationAttachments:
    """Which of our documents go with `notification` (checkout's attachments provider)."""
    named = notification.context.get("documents") if notification.context else None
    if named:
        # A document's own email, or a resend: exactly what it names.
        documents = [d for d in (document_from_key(k) for k in named) if d is not None]
        return _attach(documents)
    if not notification.payment_id:
        return NotificationAttachments()
    if notification.kind in PAYMENT_OUTCOME_KINDS:
        receipt = Receipt.objects.filter(payment_id=notification.payment_id).first()
        if receipt is None:
            paid = notification.payment is not None and notification.payment.status in PAID_STATUSES
            return NotificationAttachments(waiting=paid)  # being issued
        if receipt.delivered_by_id and receipt.delivered_by_id != notification.pk:
            return NotificationAttachments()  # already went to the buyer with another email
        return _attach([receipt])
    if notification.kind == _N.REFUND_ISSUED:
        notes = list(
            CreditNote.objects.filter(
                receipt__payment_id=notification.payment_id, delivered_by__isnull=True
            ).order_by("sequence")
        )
        uncredited = Refund.objects.filter(
            payment_id=notification.payment_id,
            status=Refund.Status.SUCCEEDED,
            credit_note__isnull=True,
        ).exists()
        receipted = Receipt.objects.filter(payment_id=notification.payment_id).exists()
        attachments = _attach(notes)
        return NotificationAttachments(
            files=attachments.files, waiting=attachments.waiting or (uncredited and receipted)
        )
    return NotificationAttachments()


def document_delivery_record(*, notification_id: int) -> int:
    """Checkout sent (or a bounce came back for) an email: record it on the documents it
    carried. Idempotent: a document already pointing at this email is left as it is."""
    notification = Notification.objects.get(pk=notification_id)
    recorded = 0
    for attachment in notification.attachments or []:
        document = document_from_key(attachment.get("document", ""))
        if document is None:
            continue
        with transaction.atomic():
            model = type(document)
            document = model.objects.select_for_update().get(pk=document.pk)
            cause = (
                "delivery_bounced"
                if notification.status == Notification.Status.BOUNCED
                else "delivered"
            )
            is_credit = isinstance(document, CreditNote)
            receipt_id = document.receipt_id if is_credit else document.pk
            seen = ReceiptEvent.objects.filter(
                receipt_id=receipt_id,
                credit_note=document if is_credit else None,
                cause=cause,
                detail__notification=notification.pk,
            ).exists()
            if seen:
                continue
            if document.delivered_by_id is None or cause == "delivery_bounced":
                model.objects.filter(pk=document.pk).update(delivered_by=notification)
            ReceiptEvent.objects.create(
                receipt_id=receipt_id,
                credit_note=document if is_credit else None,
                cause=cause,
                detail={
                    "notification": notification.pk,
                    "kind": notification.kind,
                    "to": notification.to_email,
                    "message_id": notification.message_id,
                    "reason": notification.last_error[:300] if cause == "delivery_bounced" else "",
                },
            )
            recorded += 1
    return recorded


def _waiting_email_exists(document: Receipt | CreditNote) -> bool:
    """An email about the document's payment is still queued and will carry it."""
    if isinstance(document, CreditNote):
        kinds, payment_id = {_N.REFUND_ISSUED}, document.receipt.payment_id
    else:
        kinds, payment_id = PAYMENT_OUTCOME_KINDS, document.payment_id
    return Notification.objects.filter(
        payment_id=payment_id, kind__in=kinds, status=Notification.Status.PENDING
    ).exists()


def document_follow_up(*, document: Receipt | CreditNote) -> Notification | None:
    """Send the document in an email of its own (once: the key is the document's)."""
    is_credit = isinstance(document, CreditNote)
    receipt = document.receipt if is_credit else document
    if receipt.order_id is None:
        return None  # no order, no email address we write to: finance has it in the admin
    kind = _N.CREDIT_NOTE if is_credit else _N.RECEIPT
    amount_key = "refund_amount" if is_credit else "payment_amount"
    notification, _ = notification_schedule(
        order=receipt.order,
        kind=kind,
        payment=receipt.payment,
        suffix=document_key(document),
        context={
            "documents": [document_key(document)],
            "document_number": document.number,
            amount_key: document.total,
            "currency": document.currency,
        },
    )
    return notification


def documents_follow_up(*, now=None, limit: int = 200) -> int:
    """The sweeper's part: stored documents that no email carried within the grace period."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.RECEIPTS_DELIVERY_GRACE_SECONDS)
    sent = 0
    for model in (Receipt, CreditNote):
        candidates = model.objects.filter(
            status=Receipt.Status.STORED,
            delivered_by__isnull=True,
            stored_at__lt=grace,
            stored_at__gte=now - FOLLOW_UP_WINDOW,
        ).order_by("stored_at")[:limit]
        for document in candidates:
            if _waiting_email_exists(document):
                continue
            if document_follow_up(document=document) is not None:
                sent += 1
    return sent


def document_resend(*, document: Receipt | CreditNote, actor) -> Notification | None:
    """Staff send a document again in an email of its own (a new message each time)."""
    is_credit = isinstance(document, CreditNote)
    receipt = document.receipt if is_credit else document
    if receipt.order_id is None:
        return None
    key = document_key(document)
    count = Notification.objects.filter(key__contains=f":{key}:resend:").count()
    with transaction.atomic():
        notification, _ = notification_schedule(
            order=receipt.order,
            kind=_N.CREDIT_NOTE if is_credit else _N.RECEIPT,
            payment=receipt.payment,
            suffix=f"{key}:resend:{count + 1}",
            context={
                "documents": [key],
                "document_number": document.number,
                "refund_amount" if is_credit else "payment_amount": document.total,
                "currency": document.currency,
            },
        )
        ReceiptEvent.objects.create(
            receipt=receipt,
            credit_note=document if is_credit else None,
            cause="resent",
            actor=actor if getattr(actor, "pk", None) else None,
            detail={"notification": notification.pk, "to": notification.to_email},
        )
        audit_log_record(
            actor=actor,
            action="receipts.resent",
            target=document,
            detail={"number": document.number, "notification": notification.pk},
        )
    return notification
