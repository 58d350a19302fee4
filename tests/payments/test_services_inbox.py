"""No lost work: crashes, the sweeper, dead letters and replay."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.models import AuditLogEntry
from payments import webhooks
from payments.models import Payment, PaymentEvent, WebhookEvent
from payments.selectors import webhook_events_dead
from payments.services.inbox import webhook_event_replay, webhook_events_sweep
from tests.payments.factories import intent_event, payment_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


class Crash(Exception):
    pass


@pytest.fixture
def crash_first(monkeypatch):
    """Make the real succeeded handler crash on its first `n` calls (a fault, not a stand-in:
    later calls run the real handler)."""

    def install(n: int = 1):
        real = webhooks.HANDLERS["payment_intent.succeeded"]
        calls = {"n": 0}

        def crashing(event):
            calls["n"] += 1
            if calls["n"] <= n:
                real(event)  # its writes are rolled back with the crash
                raise Crash("handler crashed after doing its work")
            real(event)

        monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.succeeded", crashing)
        return calls

    return install


def test_a_handler_crash_leaves_the_event_retryable_and_the_sweeper_completes_it_once(
    deliver, localstripe, crash_first, money_signals
):
    crash_first(1)
    payment = payment_create()
    assert deliver(intent_event(payment, "payment_intent.succeeded")).status_code == 200

    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == ("failed", 1)
    assert "Crash" in event.last_error
    assert event.next_attempt_at > timezone.now()
    assert Payment.objects.get(pk=payment.pk).status == "processing"  # rolled back
    assert not PaymentEvent.objects.exists()

    assert webhook_events_sweep() == []  # not due yet
    swept = webhook_events_sweep(now=event.next_attempt_at + timedelta(seconds=1))
    assert swept == [event.pk]

    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("processed", 2, "")
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert PaymentEvent.objects.filter(payment=payment, outcome="applied").count() == 1
    assert money_signals.counts()[("payment_succeeded", payment.pk)] == 1
    assert webhook_events_sweep(now=timezone.now() + timedelta(days=1)) == []


def test_an_event_that_keeps_failing_goes_dead_and_replay_completes_it(
    deliver, localstripe, crash_first, settings, admin_user
):
    settings.PAYMENTS_WEBHOOK_MAX_ATTEMPTS = 3
    crash_first(3)
    payment = payment_create()
    deliver(intent_event(payment, "payment_intent.succeeded"))

    later = timezone.now()
    for _ in range(5):
        later += timedelta(hours=2)
        webhook_events_sweep(now=later)
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == ("dead", 3)
    assert list(webhook_events_dead()) == [event]
    assert webhook_events_sweep(now=later + timedelta(days=1)) == []

    webhook_event_replay(event_id=event.pk, actor=admin_user)

    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processed", 1)
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    entry = AuditLogEntry.objects.get(action="payments.webhook_event_replay")
    assert entry.actor == admin_user and entry.detail["status"] == "dead"


def test_backoff_grows_and_is_capped(settings):
    settings.PAYMENTS_WEBHOOK_BACKOFF_SECONDS = 30
    settings.PAYMENTS_WEBHOOK_BACKOFF_MAX_SECONDS = 600
    delays = [webhooks.webhook_event_backoff(attempts=n).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 480, 600]


def _stored(payment, **fields) -> WebhookEvent:
    from payments import gateway

    payload = gateway.webhook_payload_from_event(intent_event(payment, "payment_intent.succeeded"))
    event_id = webhooks.webhook_event_store(payload=payload)
    WebhookEvent.objects.filter(pk=event_id).update(**fields)
    return WebhookEvent.objects.get(pk=event_id)


def test_the_sweeper_re_drives_lost_and_abandoned_events_only(localstripe, settings):
    now = timezone.now()
    grace = timedelta(seconds=settings.PAYMENTS_WEBHOOK_SWEEP_GRACE_SECONDS + 1)
    lost = _stored(payment_create(), received_at=now - grace)  # the enqueue never arrived
    fresh = _stored(payment_create(), received_at=now)  # its task is on its way
    abandoned = _stored(  # the worker died mid-task; its lease ran out
        payment_create(),
        status="processing",
        attempts=1,
        received_at=now - grace,
        next_attempt_at=now - timedelta(seconds=1),
    )
    leased = _stored(  # a worker holds it right now
        payment_create(),
        status="processing",
        attempts=1,
        received_at=now - grace,
        next_attempt_at=now + timedelta(minutes=5),
    )

    swept = webhook_events_sweep(now=now)

    assert sorted(swept) == sorted([lost.pk, abandoned.pk])
    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == statuses[abandoned.pk] == "processed"
    assert statuses[fresh.pk] == "received"
    assert statuses[leased.pk] == "processing"


def test_processing_the_same_event_twice_applies_it_once(localstripe):
    payment = payment_create()
    event = _stored(payment)
    webhooks.webhook_event_process(event_id=event.pk)
    webhooks.webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processed", 1)
    assert PaymentEvent.objects.filter(payment=payment).count() == 1


def test_an_attempt_that_waited_for_the_events_lock_starts_its_lease_when_it_gets_it(
    localstripe, settings
):
    """A delivery that waited behind another holder of the event must not start with a lease
    dated before its wait: the sweeper would take the event back while it is being handled."""
    event = _stored(payment_create())
    locked = threading.Event()
    released_at: list = []

    def holder() -> None:
        try:
            with transaction.atomic():
                WebhookEvent.objects.select_for_update().get(pk=event.pk)
                locked.set()
                time.sleep(0.5)
                released_at.append(timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(5)
    webhooks.webhook_event_process(event_id=event.pk)
    thread.join()

    event.refresh_from_db()
    assert event.status == "processed"
    assert event.processing_started_at >= released_at[0]
