"""20 distinct events, each delivered 25 times at once, against the live server."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from payments.models import Payment, PaymentEvent, WebhookEvent
from tests.payments.factories import intent_event, payment_create, signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_a_storm_of_duplicates_gives_one_row_one_transition_and_one_signal_each(
    wide_live_server, localstripe, settings, money_signals
):
    payments = [payment_create() for _ in range(20)]
    events = [
        intent_event(
            p, "payment_intent.succeeded" if i % 2 == 0 else "payment_intent.payment_failed"
        )
        for i, p in enumerate(payments)
    ]
    deliveries = [signed(e, settings.STRIPE_WEBHOOK_SECRET) for e in events] * 25
    url = f"{wide_live_server.url}/webhooks/stripe/"
    start = threading.Barrier(50)
    local = threading.local()

    def post(delivery):
        body, signature = delivery
        if not hasattr(local, "session"):
            local.session = requests.Session()
            start.wait(timeout=30)
        response = local.session.post(
            url,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            allow_redirects=False,
            timeout=30,
        )
        return response.status_code

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(post, deliveries))
    elapsed = time.monotonic() - began

    assert len(codes) == 500
    assert [c for c in codes if not 200 <= c < 300] == []
    assert WebhookEvent.objects.count() == 20
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    applied = PaymentEvent.objects.filter(outcome="applied")
    assert applied.count() == 20
    assert sorted(applied.values_list("payment_id", flat=True)) == sorted(p.pk for p in payments)
    for i, payment in enumerate(payments):
        expected = "payment_succeeded" if i % 2 == 0 else "payment_failed"
        assert money_signals.counts()[(expected, payment.pk)] == 1
    assert len(money_signals) == 20
    assert Payment.objects.filter(status="succeeded").count() == 10
    assert Payment.objects.filter(status="failed").count() == 10
    print(f"500 deliveries in {elapsed:.2f}s")
