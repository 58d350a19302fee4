"""Renewals charged off-session with the saved card, against localstripe, with time travel."""

import uuid
from datetime import timedelta

import pytest

from checkout.models import Entitlement, Order, Subscription
from checkout.services.checkout import checkout_pay
from checkout.services.orders import order_create
from checkout.services.subscriptions import subscription_cancel, subscription_renew
from checkout.tasks import subscriptions_renew_due_task
from config.models import AuditLogEntry
from payments import gateway
from payments.models import Payment
from payments.services.charge import customer_card_save
from tests.checkout.cards import DECLINED, VISA, card_payment_method
from tests.checkout.factories import OfferFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _subscribed(interval="month", price=4_900) -> Subscription:
    offer = OfferFactory(billing_type="recurring", interval=interval, price_amount=price)
    order = order_create(
        offer=offer,
        checkout_token=uuid.uuid4(),
        email="sub@example.com",
        name="Sub Scriber",
        billing_country="GB",
    )
    checkout_pay(order_id=order.pk, payment_method_id=card_payment_method(VISA), ip=None)
    return Subscription.objects.get(order=order)


def test_a_due_renewal_is_charged_off_session_once_and_the_period_advances(localstripe):
    subscription = _subscribed()
    due = subscription.next_charge_at

    assert subscription_renew(subscription_id=subscription.pk, now=due - timedelta(days=1)) is None
    payment = subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=1))

    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.attempt_kind == Payment.AttemptKind.RENEWAL
    assert payment.amount == 4_900 and payment.payment_method_id
    renewal = payment.order
    assert renewal.pk != subscription.order_id
    assert (renewal.status, renewal.amount_paid, renewal.email) == (
        "paid",
        4_900,
        "sub@example.com",
    )
    assert Entitlement.objects.filter(order=renewal).exists()
    subscription.refresh_from_db()
    assert subscription.current_period_start == due
    assert subscription.next_charge_at.month == (due.month % 12) + 1

    # Run again at the same moment (a second beat, a redelivery): nothing more is charged.
    assert (
        subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=2)) is None
    )
    assert Payment.objects.filter(attempt_kind=Payment.AttemptKind.RENEWAL).count() == 1
    assert Order.objects.count() == 2
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("subscription_id") == str(subscription.pk)
    ]  # fmt: skip
    assert len(intents) == 1


def test_a_declined_renewal_makes_the_subscription_past_due_and_is_not_retried_blindly(
    localstripe,
):
    subscription = _subscribed()
    customer_card_save(
        customer=subscription.customer, payment_method_id=card_payment_method(DECLINED)
    )
    due = subscription.next_charge_at

    payment = subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=1))

    assert payment.status == Payment.Status.FAILED
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert subscription.next_charge_at == due
    assert payment.order.status == Order.Status.FAILED
    assert subscription_renew(subscription_id=subscription.pk, now=due + timedelta(hours=1)) is None
    assert Payment.objects.filter(attempt_kind=Payment.AttemptKind.RENEWAL).count() == 1
    assert AuditLogEntry.objects.filter(action="subscription.past_due").count() == 1


def test_a_canceled_subscription_is_never_charged_again(localstripe):
    subscription = _subscribed(interval="year", price=99_000)
    subscription_cancel(subscription=subscription, by="test")
    subscription_cancel(subscription=subscription, by="test")

    later = subscription.next_charge_at + timedelta(days=1)
    assert subscription_renew(subscription_id=subscription.pk, now=later) is None
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED and subscription.canceled_at
    assert AuditLogEntry.objects.filter(action="subscription.cancel").count() == 1


def test_the_beat_task_charges_only_what_is_due(localstripe):
    due_now = _subscribed()
    Subscription.objects.filter(pk=due_now.pk).update(
        next_charge_at=due_now.next_charge_at - timedelta(days=40)
    )

    assert subscriptions_renew_due_task() == 1
    assert subscriptions_renew_due_task() == 0
    assert Payment.objects.filter(attempt_kind=Payment.AttemptKind.RENEWAL).count() == 1


def test_the_buyer_sees_the_next_charge_and_stops_renewing_from_the_portal(localstripe, client):
    from checkout.services.portal import portal_token_make

    subscription = _subscribed()
    token = portal_token_make(email="sub@example.com")

    page = client.get(f"/account/{token}/").content.decode()
    assert "Renewals" in page and "Next charge" in page and "Stop renewing" in page

    foreign = portal_token_make(email="someone.else@example.com")
    assert (
        client.post(f"/account/{foreign}/subscriptions/{subscription.pk}/cancel/").status_code
        == 404
    )
    response = client.post(f"/account/{token}/subscriptions/{subscription.pk}/cancel/", follow=True)

    assert "will not renew" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert "Stop renewing" not in client.get(f"/account/{token}/").content.decode()
