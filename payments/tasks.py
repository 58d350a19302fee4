"""Celery tasks: load by id, call one service. Services are imported when the task runs, so the
services that enqueue these tasks can import this module."""

from config.celery import app


@app.task(name="payments.webhook_event_process")
def webhook_event_process(event_id: int) -> None:
    from payments.webhooks import webhook_event_process

    webhook_event_process(event_id=event_id)


@app.task(name="payments.webhook_events_sweep")
def webhook_events_sweep() -> None:
    from payments.services.inbox import webhook_events_sweep

    webhook_events_sweep()


@app.task(name="payments.payments_reconcile")
def payments_reconcile() -> None:
    from payments.services.reconciliation import payments_recheck_paid, payments_reconcile

    payments_reconcile()
    payments_recheck_paid()
