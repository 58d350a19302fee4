"""The broker stopped while webhooks arrive, and a real worker killed mid-task."""

import signal
import threading
import time
from datetime import timedelta

import psutil
import pytest
import requests
from django.db import connection, connections, transaction
from django.utils import timezone

from config.celery import app as celery_app
from devtools.embedded import EmbeddedRedis, free_port
from payments import webhooks
from payments.models import Payment, PaymentEvent, WebhookEvent
from payments.services.inbox import webhook_events_sweep
from tests.conftest import wait_until
from tests.payments.factories import intent_event, payment_create, signed

pytestmark = pytest.mark.django_db(transaction=True)


def _use_broker(url: str) -> None:
    # kombu keeps one connection pool per broker URL; dropping the app's references makes the
    # next publish use the pool for `url` (closing them would break the session broker's pool).
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_broker(stack_dir):
    """A Redis of this test's own, that the test can stop and start again on the same port."""
    original = celery_app.conf.broker_url
    redis = EmbeddedRedis(stack_dir / f"redis-{time.monotonic_ns()}", free_port(), durable=False)
    redis.start()
    _use_broker(redis.url(0))
    yield redis
    redis.stop()
    _use_broker(original)


def test_webhooks_are_acknowledged_and_stored_while_the_broker_is_down_and_processed_after(
    wide_live_server, localstripe, settings, own_broker, worker_factory
):
    payments = [payment_create() for _ in range(10)]
    own_broker.stop()

    url = f"{wide_live_server.url}/webhooks/stripe/"
    durations, codes = [], []
    with requests.Session() as session:
        for payment in payments:
            body, signature = signed(
                intent_event(payment, "payment_intent.succeeded"), settings.STRIPE_WEBHOOK_SECRET
            )
            began = time.monotonic()
            response = session.post(
                url,
                data=body,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                timeout=30,
            )
            durations.append(time.monotonic() - began)
            codes.append(response.status_code)

    assert codes == [200] * 10
    assert WebhookEvent.objects.filter(status="received").count() == 10
    # A broker that refuses connections fails each publish at once (the row is the outbox).
    assert sorted(durations)[-2] < 0.5, durations
    assert max(durations) < 5, durations

    own_broker.start()
    later = timezone.now() + timedelta(seconds=settings.PAYMENTS_WEBHOOK_SWEEP_GRACE_SECONDS + 1)
    assert len(webhook_events_sweep(now=later)) == 10  # published to the broker that came back
    worker_factory(broker_url=own_broker.url(0))

    wait_until(
        lambda: WebhookEvent.objects.filter(status="processed").count() == 10,
        timeout=30,
        message="the stored events were not processed after the broker came back",
    )
    assert Payment.objects.filter(status="succeeded").count() == 10
    assert PaymentEvent.objects.filter(outcome="applied").count() == 10


def _lock_row(payment_id: int, release: threading.Event, locked: threading.Event) -> None:
    try:
        with transaction.atomic():
            Payment.objects.select_for_update().get(pk=payment_id)
            locked.set()
            release.wait(timeout=60)
    finally:
        connections.close_all()


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query ILIKE %s",
            ["%payments_payment%"],
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_mid_task_is_redelivered_and_its_effect_happens_once(
    localstripe, settings, worker_factory
):
    payment = payment_create()
    release, locked = threading.Event(), threading.Event()
    holder = threading.Thread(target=_lock_row, args=(payment.pk, release, locked))
    holder.start()
    try:
        assert locked.wait(timeout=10)
        worker = worker_factory(visibility_timeout=5, concurrency=1)
        body, signature = signed(
            intent_event(payment, "payment_intent.succeeded"), settings.STRIPE_WEBHOOK_SECRET
        )
        event_id = webhooks.webhook_receive(body=body, signature_header=signature)

        # The task is mid-flight: it has claimed the event and waits for the payment row.
        wait_until(_backends_waiting_on_a_lock, timeout=20, message="the task never started")
        assert WebhookEvent.objects.get(pk=event_id).status == "processing"
        children = psutil.Process(worker.pid).children()
        assert len(children) == 1
        children[0].send_signal(signal.SIGKILL)
        worker.send_signal(signal.SIGKILL)  # the whole worker goes, as in a machine crash
        worker.wait(timeout=10)
    finally:
        release.set()
        holder.join(timeout=10)

    second = worker_factory(visibility_timeout=5, concurrency=1)
    deadline = time.monotonic() + 60
    while WebhookEvent.objects.get(pk=event_id).status != "processed":
        if time.monotonic() > deadline:
            pytest.fail(
                "the killed task was never redelivered:\n"
                + worker.log_path.read_text()[-3000:]
                + "\n---\n"
                + second.log_path.read_text()[-3000:]
            )
        time.sleep(0.5)
    event = WebhookEvent.objects.get(pk=event_id)
    assert event.attempts == 2
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert PaymentEvent.objects.filter(payment=payment).count() == 1


def test_a_burst_of_concurrent_deliveries_is_processed_once_each_by_a_real_worker(
    wide_live_server, localstripe, settings, celery_worker
):
    from concurrent.futures import ThreadPoolExecutor

    payments = [payment_create() for _ in range(40)]
    url = f"{wide_live_server.url}/webhooks/stripe/"
    deliveries = [
        signed(intent_event(p, "payment_intent.succeeded"), settings.STRIPE_WEBHOOK_SECRET)
        for p in payments
    ]

    def post(delivery):
        body, signature = delivery
        return requests.post(
            url,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(post, deliveries)) == {200}

    wait_until(
        lambda: WebhookEvent.objects.filter(status="processed").count() == 40,
        timeout=30,
        message="the burst was not processed",
    )
    assert Payment.objects.filter(status="succeeded").count() == 40
    assert PaymentEvent.objects.filter(outcome="applied").count() == 40
