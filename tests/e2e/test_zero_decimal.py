"""A zero-decimal currency end to end against the strict Stripe peer: a JPY checkout, a JPY
refund and a JPY renewal, amounts in yen (the minor unit is the yen itself), with Stripe's
minimum of ¥50 and a renewal whose saved card starts declining."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from checkout.models import Order, Subscription
from checkout.services.orders import order_create
from checkout.services.subscriptions import subscription_renew
from payments.models import Payment, Refund
from payments.services.charge import customer_ensure, payment_start
from payments.services.refunds import payment_refund
from tests.checkout.cards import VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.stripe_helpers import object_at_stripe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _order(*, price: int, billing_type: str = "one_time", interval: str = "") -> Order:
    offer = OfferFactory(
        currency="JPY", price_amount=price, billing_type=billing_type, interval=interval
    )
    return order_create(
        offer=offer,
        checkout_token=uuid.uuid4(),
        email="tanaka@example.com",
        name="Tanaka Hanako",
        billing_country="JP",
    )


def test_a_jpy_checkout_charges_yen_as_yen(localstripe):
    order = _order(price=4_900)

    outcome = checkout_pay_with(order, VISA)

    assert outcome.status == "succeeded"
    order.refresh_from_db()
    assert (order.status, order.currency, order.amount_paid) == ("paid", "JPY", 4_900)
    intent = object_at_stripe(
        localstripe, "payment_intents", outcome.payment.stripe_payment_intent_id
    )
    assert (intent["amount"], intent["currency"], intent["status"]) == (4_900, "jpy", "succeeded")


def test_a_jpy_refund_gives_back_yen(localstripe):
    order = _order(price=4_900)
    outcome = checkout_pay_with(order, VISA)

    refund = payment_refund(
        payment_id=outcome.payment.pk,
        amount=1_000,
        reason="The customer asked for part of it back",
        actor=None,
        request_key="jpy-1",
    )

    assert (refund.status, refund.amount, refund.currency) == ("succeeded", 1_000, "jpy")
    payment = Payment.objects.get(pk=outcome.payment.pk)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 1_000)
    at_stripe = object_at_stripe(localstripe, "refunds", refund.stripe_refund_id)
    assert (at_stripe["amount"], at_stripe["currency"]) == (1_000, "jpy")
    assert at_stripe["reason"] == "requested_by_customer"
    assert at_stripe["metadata"]["reason"] == "The customer asked for part of it back"
    rest = payment_refund(
        payment_id=payment.pk, amount=None, reason="And the rest", actor=None, request_key="jpy-2"
    )
    assert rest.amount == 3_900
    assert Refund.objects.filter(payment=payment).count() == 2


def test_a_jpy_renewal_is_charged_off_session_in_yen(localstripe):
    order = _order(price=4_900, billing_type="recurring", interval="month")
    checkout_pay_with(order, VISA)
    subscription = Subscription.objects.get(order=order)
    assert (subscription.amount, subscription.currency) == (4_900, "JPY")

    payment = subscription_renew(
        subscription_id=subscription.pk, now=subscription.next_charge_at + timedelta(minutes=1)
    )

    assert payment.status == Payment.Status.SUCCEEDED
    assert (payment.amount, payment.currency) == (4_900, "jpy")
    intent = object_at_stripe(localstripe, "payment_intents", payment.stripe_payment_intent_id)
    assert (intent["amount"], intent["currency"]) == (4_900, "jpy")


def test_a_jpy_renewal_on_a_card_that_started_declining_records_the_decline_code(localstripe):
    order = _order(price=4_900, billing_type="recurring", interval="month")
    checkout_pay_with(order, VISA)
    subscription = Subscription.objects.get(order=order)
    localstripe.decline_later(subscription.customer.payment_method_id, "insufficient_funds")

    payment = subscription_renew(
        subscription_id=subscription.pk, now=subscription.next_charge_at + timedelta(minutes=1)
    )

    assert payment.status == Payment.Status.FAILED
    assert (payment.failure_code, payment.decline_code) == ("card_declined", "insufficient_funds")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE


def test_stripes_yen_minimum_is_fifty_yen(localstripe):
    customer = customer_ensure(email="tanaka@example.com", name="Tanaka Hanako")

    below = payment_start(
        idempotency_key="jpy:49",
        amount=49,
        currency="jpy",
        customer=customer,
        payment_method_id=card_payment_method(VISA),
        return_url="https://portal.example/return/",
    )
    at = payment_start(
        idempotency_key="jpy:50",
        amount=50,
        currency="jpy",
        customer=customer,
        payment_method_id=card_payment_method(VISA),
        return_url="https://portal.example/return/",
    )

    assert (below.status, below.failure_code) == ("failed", "amount_too_small")
    assert at.status == "succeeded"
