from config.celery import app
from payments import webhooks
from payments.services import inbox, reconciliation


@app.task(name="payments.webhook_event_process")
def webhook_event_process(event_id: int) -> None:
    webhooks.webhook_event_process(event_id=event_id)


@app.task(name="payments.webhook_events_dispatch")
def webhook_events_dispatch(event_ids: list[int]) -> None:
    """Fan a burst the webhook view published as one message out into one task per event."""
    for event_id in event_ids:
        webhook_event_process.apply_async(args=(event_id,))


@app.task(name="payments.webhook_events_sweep")
def webhook_events_sweep() -> None:
    inbox.webhook_events_sweep()


@app.task(name="payments.payments_reconcile")
def payments_reconcile() -> None:
    reconciliation.payments_reconcile()
