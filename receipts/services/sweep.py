"""The sweeper (beat, every minute): finish what was stored but never done, so nothing depends
on an enqueue or a worker surviving (STYLE.md, Celery).

- a paid payment with no receipt a minute after it succeeded: issue it;
- a succeeded refund with no credit note (a second partial refund changes no payment status,
  so no signal comes; a refund can also succeed days after it was asked for): credit it;
- an issued document with no stored PDF: render it again, with backoff, until
  RECEIPTS_RENDER_MAX_ATTEMPTS;
- a stored document no email carried: send it on its own (receipts.delivery);
- an export whose worker vanished: build it again.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.celery import enqueue_on_commit
from payments.models import PAID_STATUSES, Payment, Refund
from receipts.delivery import documents_follow_up
from receipts.models import CreditNote, Receipt, ReceiptExport
from receipts.tasks import (
    credit_notes_produce_task,
    document_render_task,
    receipt_export_build_task,
    receipt_produce_task,
)

BATCH = 200
# Payments that succeeded longer ago than this predate the receipts app: not swept.
BACKFILL_WINDOW = timedelta(days=30)
GRACE = timedelta(seconds=60)
EXPORT_LEASE = timedelta(minutes=15)


def receipts_sweep(*, now=None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {}
    missing = Payment.objects.filter(
        status__in=PAID_STATUSES,
        succeeded_at__lt=now - GRACE,
        succeeded_at__gte=now - BACKFILL_WINDOW,
        receipt__isnull=True,
    ).values_list("pk", flat=True)[:BATCH]
    for payment_id in missing:
        enqueue_on_commit(receipt_produce_task, payment_id)
    counts["receipts"] = len(missing)

    uncredited = (
        Refund.objects.filter(
            status=Refund.Status.SUCCEEDED,
            credit_note__isnull=True,
            payment__receipt__isnull=False,
            updated_at__lt=now - GRACE,
        )
        .values_list("payment_id", flat=True)
        .distinct()[:BATCH]
    )
    for payment_id in uncredited:
        enqueue_on_commit(credit_notes_produce_task, payment_id)
    counts["credit_notes"] = len(uncredited)

    retry = timedelta(seconds=settings.RECEIPTS_RENDER_RETRY_SECONDS)
    rendered = 0
    for kind, model in (("receipt", Receipt), ("credit_note", CreditNote)):
        stuck = model.objects.filter(
            status=Receipt.Status.ISSUED,
            issued_at__lt=now - retry,
            render_attempts__lt=settings.RECEIPTS_RENDER_MAX_ATTEMPTS,
        ).only("pk", "issued_at", "render_attempts")[:BATCH]
        for document in stuck:
            # Backoff: the n-th retry no sooner than retry * 2**n after the document was issued.
            if document.issued_at + retry * (2**document.render_attempts) <= now:
                enqueue_on_commit(document_render_task, kind, document.pk)
                rendered += 1
    counts["renders"] = rendered

    counts["follow_ups"] = documents_follow_up(now=now)

    lost = ReceiptExport.objects.filter(
        status__in=[ReceiptExport.Status.QUEUED, ReceiptExport.Status.RUNNING],
        created_at__lt=now - EXPORT_LEASE,
        finished_at__isnull=True,
    ).values_list("pk", flat=True)[:BATCH]
    for export_id in lost:
        enqueue_on_commit(receipt_export_build_task, export_id)
    counts["exports"] = len(lost)
    return counts
