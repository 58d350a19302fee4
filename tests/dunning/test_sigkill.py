"""A real `celery worker` killed with SIGKILL in the middle of a retry, then redelivered, makes
exactly one PaymentIntent (tests/payments/test_webhook_reliability.py does the same for
webhooks)."""

import signal
import threading
import time

import psutil
import pytest
from django.db import connection, connections, transaction

from config.celery import app as celery_app
from dunning.models import DunningAttempt, DunningCase
from dunning.services import dunning_case_step_run
from payments import gateway
from payments.models import Payment
from tests.conftest import wait_until
from tests.dunning.factories import case_opened, checkout_declined

pytestmark = pytest.mark.django_db(transaction=True)


def _hold(model, pk: int, release: threading.Event, locked: threading.Event) -> None:
    try:
        with transaction.atomic():
            model.objects.select_for_update().get(pk=pk)
            locked.set()
            release.wait(timeout=90)
    finally:
        connections.close_all()


def _waiting_on(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query ILIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0]


def _intents_for(payment_id: int) -> list:
    return [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("payment_id") == str(payment_id)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("held", "table", "charged_before_the_kill"),
    [
        # Killed after Stripe took the PaymentIntent, before its outcome was recorded.
        (DunningAttempt, "dunning_dunningattempt", 1),
        # Killed while waiting for the case, before Stripe was called.
        (DunningCase, "dunning_dunningcase", 0),
    ],
)
def test_a_worker_killed_mid_retry_is_redelivered_and_makes_exactly_one_payment_intent(
    localstripe, worker_factory, held, table, charged_before_the_kill
):
    celery_app.conf.task_always_eager = True
    try:
        order, _ = checkout_declined()
        case = case_opened(order)
    finally:
        celery_app.conf.task_always_eager = False
    case.refresh_from_db()
    assert case.next_step == 1
    # The step makes the attempt and hands its charge to a worker (none is running yet).
    assert dunning_case_step_run(case_id=case.pk, step=1, now=case.next_action_at) == "charging"
    attempt = DunningAttempt.objects.get(case=case)

    release, locked = threading.Event(), threading.Event()
    pk = attempt.pk if held is DunningAttempt else case.pk
    holder = threading.Thread(target=_hold, args=(held, pk, release, locked))
    holder.start()
    try:
        assert locked.wait(timeout=10)
        worker = worker_factory(visibility_timeout=5, concurrency=1)
        wait_until(lambda: _waiting_on(table), timeout=30, message="the retry never started")
        attempt.refresh_from_db()
        assert attempt.status == "pending"
        payment = Payment.objects.get(idempotency_key=attempt.idempotency_key)
        assert len(_intents_for(payment.pk)) == charged_before_the_kill
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
    while DunningAttempt.objects.get(pk=attempt.pk).status == "pending":
        if time.monotonic() > deadline:
            pytest.fail(
                "the killed retry was never redelivered:\n" + second.log_path.read_text()[-3000:]
            )
        time.sleep(0.5)

    attempt.refresh_from_db()
    assert attempt.status == "failed"  # card 0341 is declined
    assert len(_intents_for(attempt.payment_id)) == 1  # exactly one PaymentIntent
    assert Payment.objects.filter(attempt_kind="retry").count() == 1
    assert DunningAttempt.objects.filter(case=case).count() == 1
    wait_until(lambda: DunningCase.objects.get(pk=case.pk).next_step == 2, timeout=30)
