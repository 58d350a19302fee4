"""Proof that the stack is real: a real broker, a real worker process, real Stripe webhooks."""

import pytest

from payments import gateway
from payments.models import WebhookEvent
from payments.tasks import webhook_event_process
from tests.conftest import wait_until

pytestmark = pytest.mark.e2e


def test_task_through_the_real_broker_is_processed_by_a_real_worker(celery_worker):
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_stack_proof", type="portal.test", payload={"id": "evt_stack_proof"}
    )

    webhook_event_process.delay(event.pk)

    def processed():
        event.refresh_from_db()
        return event.status == WebhookEvent.Status.IGNORED

    wait_until(processed, timeout=20, message="the worker never processed the task")
    assert event.attempts == 1
    assert event.processed_at is not None


def test_payment_intent_through_the_gateway_sends_a_signed_webhook_to_the_portal(
    localstripe, live_server, settings, celery_worker
):
    localstripe.register_webhook(
        name="portal",
        url=f"{live_server.url}/webhooks/stripe/",
        secret=settings.STRIPE_WEBHOOK_SECRET,
    )

    result = gateway.payment_intent_create(
        amount=4900,
        currency="eur",
        metadata={"purpose": "stack-proof"},
        idempotency_key="stack-proof:pi",
        payment_method="pm_card_visa",
        confirm=True,
    )

    assert result.status == "succeeded"
    event = wait_until(
        lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").first(),
        timeout=20,
        message="localstripe's webhook never reached /webhooks/stripe/",
    )
    assert event.payload["data"]["object"]["id"] == result.id
    assert event.signature_verified

    def handled():
        event.refresh_from_db()
        return event.status != WebhookEvent.Status.RECEIVED

    wait_until(handled, timeout=20, message="the worker never picked up the stored event")
