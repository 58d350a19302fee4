"""Receivers for payments' and checkout's signals (DESIGN.md §2b). Each does one thing: enqueue
its task with the id it was given. A lost enqueue is re-driven by the sweeper."""

from __future__ import annotations

from checkout import signals as checkout_signals
from config.celery import enqueue_on_commit
from payments import signals
from receipts.tasks import (
    credit_notes_produce_task,
    document_delivery_record_task,
    receipt_disputes_record_task,
    receipt_produce_task,
)


def on_payment_succeeded(sender, payment_id: int, **kwargs) -> None:
    enqueue_on_commit(receipt_produce_task, payment_id)


def on_payment_refunded(sender, payment_id: int, **kwargs) -> None:
    enqueue_on_commit(credit_notes_produce_task, payment_id)


def on_payment_disputed(sender, payment_id: int, **kwargs) -> None:
    enqueue_on_commit(receipt_disputes_record_task, payment_id)


def on_notification_delivered(sender, notification_id: int, **kwargs) -> None:
    enqueue_on_commit(document_delivery_record_task, notification_id)


def connect() -> None:
    signals.payment_succeeded.connect(on_payment_succeeded, dispatch_uid="receipts.succeeded")
    signals.payment_refunded.connect(on_payment_refunded, dispatch_uid="receipts.refunded")
    signals.payment_disputed.connect(on_payment_disputed, dispatch_uid="receipts.disputed")
    checkout_signals.notification_delivered.connect(
        on_notification_delivered, dispatch_uid="receipts.notification_delivered"
    )
