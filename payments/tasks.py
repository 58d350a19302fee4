from config.celery import app
from payments import webhooks


@app.task(name="payments.webhook_event_process")
def webhook_event_process(event_id: int) -> None:
    webhooks.webhook_event_process(event_id=event_id)
