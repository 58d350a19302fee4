"""The periodic tasks are registered, scheduled by beat, and call their services."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app as celery_app
from payments import tasks
from payments.models import WebhookEvent
from tests.payments.factories import intent_event, payment_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_beat_schedules_the_sweeper_and_reconciliation():
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["payments.webhook_events_sweep"] == 30.0
    assert schedule["payments.payments_reconcile"] == 300.0
    assert "payments.webhook_events_sweep" in celery_app.tasks
    assert "payments.payments_reconcile" in celery_app.tasks


def test_the_sweep_task_processes_an_event_whose_enqueue_was_lost(localstripe):
    from payments import gateway, webhooks

    payment = payment_create()
    payload = gateway.webhook_payload_from_event(intent_event(payment, "payment_intent.succeeded"))
    event_id = webhooks.webhook_event_store(payload=payload)  # stored, never enqueued
    WebhookEvent.objects.filter(pk=event_id).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )

    tasks.webhook_events_sweep.delay()

    assert WebhookEvent.objects.get(pk=event_id).status == "processed"


def test_the_reconcile_task_runs(localstripe):
    tasks.payments_reconcile.delay()  # nothing stuck: nothing asked, nothing raised
