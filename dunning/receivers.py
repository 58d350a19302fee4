"""Receivers for payments' signals (DESIGN.md §2b). Each does one thing: enqueue its task.

Every kind of news leads to the same task, `dunning.payment_news`, which looks at the payment
and its order as they are now: a success closes cases, a failure opens (or settles) them, a
refund or cancellation cancels them.
"""

from __future__ import annotations

from config.celery import enqueue_on_commit
from dunning.tasks import payment_news_task
from payments import signals

SIGNALS = ("succeeded", "failed", "refunded", "canceled", "authorized")


def on_payment_news(sender, payment_id: int, **kwargs) -> None:
    enqueue_on_commit(payment_news_task, payment_id)


def connect() -> None:
    for name in SIGNALS:
        getattr(signals, f"payment_{name}").connect(
            on_payment_news, dispatch_uid=f"dunning.receivers.{name}"
        )
