"""Renewals charged off-session with the saved card, against localstripe, with time travel."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from checkout.models import Entitlement, Order, Subscription
from checkout.services.orders import order_create
from checkout.services.subscriptions import (
    subscription_cancel,
    subscription_card_replace,
    subscription_renew,
    subscription_renewal_charged,
)
from checkout.tasks import subscriptions_renew_due_task
from config.models import AuditLogEntry
from payments import gateway
from payments.models import Payment
from payments.services.charge import customer_card_save
from tests.checkout.cards import DECLINED, VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.conftest import wait_until

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
    checkout_pay_with(order, VISA, ip=None)
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
    declining = card_payment_method(DECLINED)
    customer_card_save(customer=subscription.customer, payment_method_id=declining)
    subscription_card_replace(
        subscription_id=subscription.pk,
        customer=subscription.customer,
        payment_method_id=declining,
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
    from checkout.portal.links import portal_token_make

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


def _renewal_intents(subscription: Subscription) -> list:
    return [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("subscription_id") == str(subscription.pk)
    ]  # fmt: skip


def _renew_in_thread(subscription_id, now, *, pause_at, reached, resume, result):
    """Run a renewal on its own connection, stopping just before the first query containing
    every fragment of `pause_at` until `resume` is set."""

    def pause(execute, sql, params, many, context):
        if all(fragment in sql for fragment in pause_at) and not reached.is_set():
            reached.set()
            resume.wait(60)
        return execute(sql, params, many, context)

    def run():
        try:
            with connection.execute_wrapper(pause):
                result["payment"] = subscription_renew(subscription_id=subscription_id, now=now)
        except Exception as exc:  # asserted by the test
            result["error"] = exc
        finally:
            reached.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_cancel_committed_between_the_claim_and_the_charge_stops_the_charge(localstripe):
    subscription = _subscribed()
    due = subscription.next_charge_at
    reached, resume, result = threading.Event(), threading.Event(), {}

    # The renewal has claimed the due period and committed; it stops as it writes its payment.
    renewal = _renew_in_thread(
        subscription.pk, due + timedelta(minutes=1),
        pause_at=('INSERT INTO "payments_payment"',), reached=reached, resume=resume,
        result=result,
    )  # fmt: skip
    assert reached.wait(60)
    assert Order.objects.count() == 2  # the claim committed the renewal order
    subscription_cancel(subscription=subscription, by="customer portal")
    resume.set()
    renewal.join(60)

    assert not renewal.is_alive() and "error" not in result
    assert result["payment"] is None
    assert _renewal_intents(subscription) == []
    renewal_payments = Payment.objects.filter(attempt_kind=Payment.AttemptKind.RENEWAL)
    assert not renewal_payments.exclude(status=Payment.Status.CANCELED).exists()
    renewal_order = Order.objects.exclude(pk=subscription.order_id).get()
    assert (renewal_order.status, renewal_order.amount_paid) == (Order.Status.CANCELED, 0)
    assert not Entitlement.objects.filter(order=renewal_order).exists()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.next_charge_at == due
    assert subscription_renewal_charged(subscription=subscription) is None


def test_a_cancel_during_the_charge_waits_for_it_and_then_knows_it_was_charged(localstripe):
    subscription = _subscribed()
    due = subscription.next_charge_at
    reached, resume, result = threading.Event(), threading.Event(), {}

    # The renewal has created the PaymentIntent and is recording its id.
    renewal = _renew_in_thread(
        subscription.pk, due + timedelta(minutes=1),
        pause_at=('UPDATE "payments_payment"', '"stripe_payment_intent_id" ='),
        reached=reached, resume=resume, result=result,
    )  # fmt: skip
    assert reached.wait(60) and "error" not in result
    canceled, cancel_errors = threading.Event(), []

    def cancel():
        try:
            subscription_cancel(subscription=subscription, by="customer portal")
            canceled.set()
        except Exception as exc:  # asserted below
            cancel_errors.append(exc)
        finally:
            connection.close()

    canceling = threading.Thread(target=cancel)
    canceling.start()
    try:
        # The cancel is queued behind the charge's lock on the subscription row, not done.
        wait_until(
            lambda: _waiting_for_a_row_lock(Subscription._meta.db_table),
            message="the cancel should wait for the renewal's lock",
        )
        assert not canceled.is_set()
    finally:
        resume.set()
    renewal.join(60)
    canceling.join(60)

    assert "error" not in result and cancel_errors == [] and canceled.is_set()
    payment = result["payment"]
    assert payment.status == Payment.Status.SUCCEEDED
    assert len(_renewal_intents(subscription)) == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    # The cancel came after the charge, and says so.
    assert subscription_renewal_charged(subscription=subscription) == payment
    assert subscription.canceled_at > payment.created_at
    # A later run charges nothing more.
    later = subscription.next_charge_at + timedelta(days=1)
    assert subscription_renew(subscription_id=subscription.pk, now=later) is None
    assert len(_renewal_intents(subscription)) == 1


def _waiting_for_a_row_lock(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND query ILIKE %s",
            [f'%FROM "{table}"%FOR UPDATE%'],
        )
        return cursor.fetchone()[0] > 0


def test_cancelling_from_the_portal_right_after_a_renewal_says_it_was_charged(localstripe, client):
    from checkout.portal.links import portal_token_make

    subscription = _subscribed()
    due = subscription.next_charge_at
    payment = subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=1))
    assert payment.status == Payment.Status.SUCCEEDED
    token = portal_token_make(email="sub@example.com")

    page = client.post(
        f"/account/{token}/subscriptions/{subscription.pk}/cancel/", follow=True
    ).content.decode()

    assert "had already been charged before you cancelled" in page
    assert "Nothing more will be charged after that" in page
