"""20 distinct events, each delivered 25 times at once, against the live server."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core import mail

from checkout.models import Notification
from payments.models import Payment, PaymentEvent, WebhookEvent
from tests.checkout.factories import OfferFactory, OrderFactory
from tests.payments.factories import intent_event, payment_create, signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_a_storm_of_duplicates_gives_one_row_one_transition_and_one_email_each(
    checkout_alone, wide_live_server, localstripe, settings, money_signals
):
    # Each payment belongs to an order, so the checkout app's real receivers email the buyer.
    offer = OfferFactory(price_amount=12_500, currency="EUR")
    orders = [OrderFactory(offer=offer, email=f"storm{i}@example.com") for i in range(20)]
    # Radar's verdict was recorded when each payment was started (payment_start expands the
    # charge); these intents exist only in the events, so Stripe could not be asked for it later.
    payments = [payment_create(order=order, risk_level="normal") for order in orders]
    mail.outbox.clear()
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
    # One notification each: one email per buyer, confirmed or failed as their payment went.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in orders)
    for i, order in enumerate(orders):
        kind = "payment_confirmed" if i % 2 == 0 else "payment_failed"
        assert list(Notification.objects.filter(order=order).values_list("kind", "status")) == [
            (kind, "sent")
        ]
    print(f"500 deliveries in {elapsed:.2f}s")
