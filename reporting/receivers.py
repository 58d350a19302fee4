"""Receivers for payments' and checkout's signals (DESIGN.md §2b; reporting is the top floor
and may listen to both). Each does one thing: enqueue the task that rebuilds the built rollup
days the change counts in (reporting/rollup.py). A lost enqueue is caught up by the beat's
rollup runs."""

from __future__ import annotations

from config.celery import enqueue_on_commit


def on_payment_changed(sender, payment_id: int, **kwargs) -> None:
    from reporting.tasks import rollup_payment_refresh_task

    enqueue_on_commit(rollup_payment_refresh_task, payment_id)


def on_notification_delivered(sender, notification_id: int, **kwargs) -> None:
    from reporting.tasks import rollup_notification_refresh_task

    enqueue_on_commit(rollup_notification_refresh_task, notification_id)


def connect() -> None:
    from checkout import signals as checkout_signals
    from payments import signals

    for name in (
        "payment_succeeded",
        "payment_failed",
        "payment_refunded",
        "payment_disputed",
        "payment_canceled",
    ):
        getattr(signals, name).connect(on_payment_changed, dispatch_uid=f"reporting.{name}")
    checkout_signals.notification_delivered.connect(
        on_notification_delivered, dispatch_uid="reporting.notification_delivered"
    )
