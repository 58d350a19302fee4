"""Receipts' tasks: each takes ids, loads by id and calls one service; running twice is harmless.

The tasks that render run under the render time limits (RECEIPTS_RENDER_SOFT_TIME_LIMIT and
RECEIPTS_RENDER_TIME_LIMIT), read from settings when each is enqueued: a soft limit stops a
render (recorded on the document; the sweeper tries again), the hard one ends the worker child.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


class RenderTask(Task):
    """A task that renders PDFs: sent with the render time limits."""

    def apply_async(self, args=None, kwargs=None, **options):
        options.setdefault("soft_time_limit", settings.RECEIPTS_RENDER_SOFT_TIME_LIMIT)
        options.setdefault("time_limit", settings.RECEIPTS_RENDER_TIME_LIMIT)
        return super().apply_async(args, kwargs, **options)


@shared_task(base=RenderTask, name="receipts.receipt_produce")
def receipt_produce_task(payment_id: int) -> None:
    """payment_succeeded: issue, render and store the payment's receipt."""
    from receipts.services.issue import ReceiptNotIssued
    from receipts.services.production import receipt_produce

    try:
        receipt_produce(payment_id=payment_id)
    except ReceiptNotIssued as exc:
        logger.info("no receipt: %s", exc)


@shared_task(base=RenderTask, name="receipts.credit_notes_produce")
def credit_notes_produce_task(payment_id: int) -> None:
    """payment_refunded: a credit note for each succeeded refund not credited yet."""
    from receipts.services.production import credit_notes_produce

    credit_notes_produce(payment_id=payment_id)


@shared_task(base=RenderTask, name="receipts.document_render")
def document_render_task(kind: str, document_id: int) -> None:
    from receipts.models import CreditNote, Receipt
    from receipts.services.production import document_render_store

    model = {"receipt": Receipt, "credit_note": CreditNote}[kind]
    document_render_store(model=model, document_id=document_id)


@shared_task(name="receipts.disputes_record")
def receipt_disputes_record_task(payment_id: int) -> None:
    """payment_disputed: a lost dispute is recorded against the receipt (no credit note)."""
    from receipts.services.issue import receipt_disputes_record

    receipt_disputes_record(payment_id=payment_id)


@shared_task(name="receipts.delivery_record")
def document_delivery_record_task(notification_id: int) -> None:
    from receipts.delivery import document_delivery_record

    document_delivery_record(notification_id=notification_id)


@shared_task(name="receipts.export_build")
def receipt_export_build_task(export_id: int) -> None:
    from receipts.services.export import receipt_export_build

    receipt_export_build(export_id=export_id)


@shared_task(name="receipts.sweep")
def receipts_sweep_task() -> dict:
    """Beat: re-drive what was stored but never finished (the outbox; STYLE.md, Celery)."""
    from receipts.services.sweep import receipts_sweep

    return receipts_sweep()
