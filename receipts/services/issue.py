"""Issuing receipts and credit notes: a gapless number and a frozen snapshot, in one transaction.

The snapshot is built before the counter is locked (reads only), so the lock is held for an
INSERT and an UPDATE, not for the reads. The number is taken from the counter row under
`SELECT … FOR UPDATE` in the transaction that inserts the document: concurrent issues queue on
the row and get consecutive numbers, and a transaction that rolls back takes its number back
with it. Idempotency is the unique constraint (one receipt per payment, one credit note per
refund or dispute): a redelivered task finds the document and changes nothing, and a race lost
on the constraint rolls back (number included) and returns the winner's document.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from payments.models import PAID_STATUSES, Dispute, Payment, Refund
from receipts.models import CreditNote, DocumentCounter, Receipt, ReceiptEvent
from receipts.services.snapshot import credit_note_snapshot_build, receipt_snapshot_build

logger = logging.getLogger(__name__)


class ReceiptNotIssued(Exception):
    """The payment is not (or no longer) one a receipt is issued for."""


class CreditNoteRefused(Exception):
    """The credit note would credit more than is left on its receipt, or has nothing to credit."""


def document_number_take(*, series: str, year: int) -> tuple[int, str]:
    """The next number of a series and year, in the caller's transaction (which must be open:
    the counter row stays locked until it ends)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_number_take needs the issuing transaction")
    counters = DocumentCounter.objects.select_for_update()
    counter = counters.filter(series=series, year=year).first()
    if counter is None:
        # INSERT … ON CONFLICT DO NOTHING: the first document of a year creates its counter,
        # and two first documents at once both find it, whichever inserted it.
        DocumentCounter.objects.bulk_create(
            [DocumentCounter(series=series, year=year, last_number=0)], ignore_conflicts=True
        )
        counter = counters.get(series=series, year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number, f"{series}-{year}-{counter.last_number:06d}"


def receipt_issue(*, payment_id: int, now: datetime | None = None) -> Receipt:
    """The receipt for a successful payment, issued once (its PDF: production.py).

    Raises ReceiptNotIssued for a payment that never succeeded.
    """
    existing = Receipt.objects.filter(payment_id=payment_id).first()
    if existing is not None:
        return existing
    payment = Payment.objects.select_related("order__offer", "order__lead", "customer").get(
        pk=payment_id
    )
    if payment.status not in PAID_STATUSES or not payment.succeeded_at:
        raise ReceiptNotIssued(f"payment {payment_id} is {payment.status}, not paid")
    snapshot = receipt_snapshot_build(payment=payment, now=now)
    try:
        with transaction.atomic():
            sequence, number = document_number_take(
                series=settings.RECEIPTS_SERIES, year=snapshot["year"]
            )
            receipt = Receipt.objects.create(
                payment=payment,
                order=payment.order,
                **_document_fields(snapshot, settings.RECEIPTS_SERIES, sequence, number),
            )
            ReceiptEvent.objects.create(
                receipt=receipt,
                to_status=receipt.status,
                cause="issued",
                detail={"number": number, "payment": payment.pk},
            )
    except IntegrityError:
        # Another worker issued it first (the unique payment constraint): ours rolled back with
        # its number, so there is no gap.
        return Receipt.objects.get(payment_id=payment_id)
    logger.info("receipt %s issued for payment %s", number, payment.pk)
    return receipt


def _document_fields(snapshot: dict[str, Any], series: str, sequence: int, number: str) -> dict:
    snapshot["number"] = number
    buyer = snapshot["buyer"]
    return {
        "series": series,
        "year": snapshot["year"],
        "sequence": sequence,
        "number": number,
        "issued_at": datetime.fromisoformat(snapshot["issued_at"]),
        "snapshot": snapshot,
        "currency": snapshot["currency"],
        "net": snapshot["net"],
        "tax": snapshot["tax"],
        "total": snapshot["total"],
        "buyer_email": buyer["email"],
        "buyer_name": (buyer["company"] or buyer["name"])[:200],
    }


def _credit_note_issue(
    *,
    receipt_id: int,
    amount: int,
    reason: str,
    refund: Refund | None = None,
    dispute: Dispute | None = None,
    actor: Any = None,
    payment_details: dict[str, Any],
    now: datetime | None = None,
) -> CreditNote:
    series = settings.RECEIPTS_CREDIT_NOTE_SERIES
    try:
        with transaction.atomic():
            # The receipt's row lock serialises its credit notes: their sum is checked against
            # what they can see. Lock order: receipt, then counter (as receipt_issue: counter).
            receipt = Receipt.objects.select_for_update().get(pk=receipt_id)
            earlier = list(receipt.credit_notes.order_by("sequence"))
            credited = sum(c.total for c in earlier)
            if amount <= 0 or credited + amount > receipt.total:
                raise CreditNoteRefused(
                    f"{receipt.number}: crediting {amount} more than the {receipt.total - credited}"
                    f" left of {receipt.total} {receipt.currency} is refused"
                )
            snapshot = credit_note_snapshot_build(
                receipt=receipt,
                amount=amount,
                credited_before=[c.snapshot for c in earlier],
                reason=reason,
                refund=payment_details,
                now=now,
            )
            sequence, number = document_number_take(series=series, year=snapshot["year"])
            note = CreditNote.objects.create(
                receipt=receipt,
                refund=refund,
                dispute=dispute,
                reason=reason[:500],
                issued_by=actor if getattr(actor, "pk", None) else None,
                **_document_fields(snapshot, series, sequence, number),
            )
            ReceiptEvent.objects.create(
                receipt=receipt,
                credit_note=note,
                to_status=note.status,
                cause="credit_note_issued",
                actor=actor if getattr(actor, "pk", None) else None,
                detail={"number": number, "amount": amount, "reason": reason[:300]},
            )
    except IntegrityError:
        found = CreditNote.objects.filter(refund=refund) if refund else None
        if found is None:
            found = CreditNote.objects.filter(dispute=dispute)
        return found.get()
    logger.info("credit note %s issued on %s", number, receipt.number)
    return note


def credit_notes_for_payment(*, payment_id: int) -> list[CreditNote]:
    """A credit note for every succeeded refund of the payment that has none yet (idempotent:
    each refund is credited once, whichever signal or sweep runs this)."""
    receipt = Receipt.objects.filter(payment_id=payment_id).first()
    if receipt is None:
        return []  # the receipt comes first; the sweeper runs this again after it
    issued = []
    refunds = Refund.objects.filter(
        payment_id=payment_id, status=Refund.Status.SUCCEEDED, credit_note__isnull=True
    ).order_by("created_at", "pk")
    for refund in refunds:
        try:
            issued.append(credit_note_for_refund(refund_id=refund.pk))
        except CreditNoteRefused as exc:
            logger.error("refund %s: %s", refund.pk, exc)
    return issued


def credit_note_for_refund(*, refund_id: int, now: datetime | None = None) -> CreditNote:
    existing = CreditNote.objects.filter(refund_id=refund_id).first()
    if existing is not None:
        return existing
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.SUCCEEDED:
        raise CreditNoteRefused(f"refund {refund_id} is {refund.status}")
    receipt = Receipt.objects.get(payment_id=refund.payment_id)
    return _credit_note_issue(
        receipt_id=receipt.pk,
        amount=refund.amount,
        reason=refund.reason,
        refund=refund,
        payment_details={
            "stripe_refund": refund.stripe_refund_id or "",
            "refunded_at": refund.updated_at.isoformat(),
        },
        now=now,
    )


def credit_note_for_dispute(*, dispute_id: int, actor: Any) -> CreditNote:
    """Finance chose to credit a lost dispute: the money went back through the bank."""
    existing = CreditNote.objects.filter(dispute_id=dispute_id).first()
    if existing is not None:
        return existing
    dispute = Dispute.objects.get(pk=dispute_id)
    if dispute.status != Dispute.Status.LOST:
        raise CreditNoteRefused(f"dispute {dispute.stripe_dispute_id} is not lost")
    receipt = Receipt.objects.get(payment_id=dispute.payment_id)
    left = receipt.total - (receipt.credit_notes.aggregate(s=Sum("total"))["s"] or 0)
    return _credit_note_issue(
        receipt_id=receipt.pk,
        amount=min(dispute.amount, left),
        reason=f"Dispute lost ({dispute.reason or 'no reason given'})",
        dispute=dispute,
        actor=actor,
        payment_details={
            "stripe_refund": dispute.stripe_dispute_id,
            "refunded_at": (dispute.closed_at or dispute.opened_at).isoformat(),
        },
    )


def receipt_disputes_record(*, payment_id: int) -> int:
    """Record each lost dispute of the payment against its receipt, once. No credit note: that
    is finance's choice (the admin's "Credit the lost dispute" action)."""
    receipt = Receipt.objects.filter(payment_id=payment_id).first()
    if receipt is None:
        return 0
    recorded = 0
    for dispute in Dispute.objects.filter(payment_id=payment_id, status=Dispute.Status.LOST):
        with transaction.atomic():
            Receipt.objects.select_for_update().get(pk=receipt.pk)
            already = receipt.events.filter(
                cause="dispute_lost", detail__dispute=dispute.stripe_dispute_id
            ).exists()
            if already:
                continue
            ReceiptEvent.objects.create(
                receipt=receipt,
                cause="dispute_lost",
                detail={
                    "dispute": dispute.stripe_dispute_id,
                    "dispute_id": dispute.pk,
                    "amount": dispute.amount,
                    "currency": dispute.currency,
                    "reason": dispute.reason,
                },
            )
            recorded += 1
    return recorded
