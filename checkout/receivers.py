"""Receivers for payments' signals (DESIGN.md §2b). Each does one thing: enqueue its task.

The signals are already sent after the payment's transaction committed; `enqueue_on_commit`
still defers to the end of any transaction the sender might be inside.

Every kind of news leads to the same task: `order_payment_record` recomputes the order from its
payments, so succeeded, authorized, canceled, failed, refunded and disputed (opened, won or
lost) are all handled by bringing the order, its access and the customer's emails in line with
the money.
"""

from __future__ import annotations

from checkout.tasks import order_payment_record_task
from config.celery import enqueue_on_commit
from payments import signals

# The payments signals checkout listens to, by name (payments.signals).
SIGNALS = ("succeeded", "authorized", "canceled", "failed", "refunded", "disputed")


def on_payment_news(sender, payment_id: int, **kwargs) -> None:
    enqueue_on_commit(order_payment_record_task, payment_id)


def connect() -> None:
    for name in SIGNALS:
        getattr(signals, f"payment_{name}").connect(
            on_payment_news, dispatch_uid=f"checkout.receivers.{name}"
        )
