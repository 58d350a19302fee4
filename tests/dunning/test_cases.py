"""When a case opens and closes: the grace period, one case per order and cause, renewals,
deposits, refunds, and the one email a buyer gets about a failed payment."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from checkout.models import Notification, Order, Subscription
from checkout.services.checkout import checkout_pay
from checkout.services.orders import order_create
from checkout.services.subscriptions import subscription_card_replace, subscription_renew
from dunning.models import DunningCase, DunningPolicy, DunningTrigger
from dunning.services import dunning_case_open, dunning_tick
from payments.models import Payment
from payments.services.charge import customer_card_save
from payments.services.transitions import payment_transition
from tests.checkout.cards import DECLINED, VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import card_saved
from tests.dunning.factories import (
    after_grace,
    buyer,
    case_opened,
    checkout_declined,
    checkout_declined_by_webhook,
    subscribed,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _failure_emails() -> list:
    return [m for m in mail.outbox if "did not go through" in m.subject]


def test_no_case_and_no_email_when_the_buyer_pays_within_the_grace_period(localstripe):
    order, _payment = checkout_declined()
    trigger = DunningTrigger.objects.get(order=order)
    assert trigger.kind == "checkout_failed" and trigger.status == "pending"
    # Still on the page: another card, a minute later.
    checkout_pay_again = card_saved(order, VISA)
    outcome = checkout_pay(
        order_id=order.pk,
        payment_method_id=checkout_pay_again.payment_method,
        setup_intent_id=checkout_pay_again.setup_intent,
        ip=None,
    )
    assert outcome.status == "succeeded"

    dunning_tick(now=after_grace(), discover=False)
    assert not DunningCase.objects.exists()
    assert DunningTrigger.objects.get(pk=trigger.pk).status == "dismissed"
    assert [m.subject for m in mail.outbox] == [
        f"Payment received: your access to {order.offer.name}"
    ]


def test_no_double_email_a_checkout_failure_is_told_once_by_the_case_after_the_grace(localstripe):
    order, _payment = checkout_declined()
    # Checkout did not send its payment_failed email: dunning owns this failure.
    assert not Notification.objects.filter(order=order, kind="payment_failed").exists()
    assert mail.outbox == []

    dunning_tick(now=after_grace() - timedelta(minutes=1), discover=False)
    assert not DunningCase.objects.exists()  # the grace is not over

    case = case_opened(order)
    dunning_tick(now=after_grace() + timedelta(minutes=1), discover=False)  # again: no repeat
    assert case.cause == "checkout" and case.amount == order.amount_due_now
    emails = _failure_emails()
    assert len(emails) == len(mail.outbox) == 1
    assert emails[0].to == [order.email]
    assert "/pay/" in emails[0].body and "/pay/" in emails[0].alternatives[0][0]
    kinds = list(
        Notification.objects.filter(order=order).values_list("kind", "channel", "template")
    )
    assert kinds == [("payment_reminder", "email", "dunning/first_notice")]


def test_an_offer_without_dunning_keeps_checkouts_own_failure_email(localstripe):
    offer = OfferFactory()
    DunningPolicy.objects.create(name="Off for this offer", offer=offer, is_active=False)
    order, _ = checkout_declined(offer=offer)

    assert list(Notification.objects.filter(order=order).values_list("kind", flat=True)) == [
        "payment_failed"
    ]
    assert len(_failure_emails()) == 1
    dunning_tick(now=after_grace(), discover=False)
    assert not DunningCase.objects.exists()
    assert len(mail.outbox) == 1


def test_one_case_per_order_and_cause_even_when_opened_concurrently(localstripe):
    order, payment = checkout_declined()
    now = after_grace()
    results, errors = [], []
    barrier = threading.Barrier(4)

    def open_case():
        try:
            barrier.wait(timeout=10)
            results.append(
                dunning_case_open(
                    order_id=order.pk,
                    cause="checkout",
                    failed_at=now,
                    payment_id=payment.pk,
                    now=now,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_case) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert DunningCase.objects.filter(order=order).count() == 1
    assert {case.pk for case in results} == {DunningCase.objects.get().pk}


def test_a_declined_renewal_opens_a_case_at_once_and_a_retry_with_a_new_card_recovers_it(
    localstripe,
):
    subscription = subscribed()
    declining = card_payment_method(DECLINED)
    customer_card_save(customer=subscription.customer, payment_method_id=declining)
    subscription_card_replace(
        subscription_id=subscription.pk, customer=subscription.customer, payment_method_id=declining
    )
    due = subscription.next_charge_at
    renewal = subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=1))
    assert renewal.status == "failed"
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    # Checkout tells the buyer nothing itself: the case does, at once (no grace for renewals).
    assert not Notification.objects.filter(kind="payment_failed").exists()

    dunning_tick(now=due + timedelta(minutes=2), discover=False)
    case = DunningCase.objects.get()
    assert case.failed_at == due
    if case.next_step == 0:  # the first email waits out the buyer's quiet hours, if any
        dunning_tick(now=case.next_action_at, discover=False)
        case.refresh_from_db()
    assert case.next_step == 1
    assert (case.cause, case.subscription_id, case.order_id) == (
        "renewal",
        subscription.pk,
        renewal.order_id,
    )
    assert case.amount == subscription.amount
    assert len(_failure_emails()) == 1

    # The buyer puts a working card on the subscription (the portal); the next retry takes it.
    good = card_payment_method(VISA)
    customer_card_save(customer=subscription.customer, payment_method_id=good)
    subscription_card_replace(
        subscription_id=subscription.pk, customer=subscription.customer, payment_method_id=good
    )
    case.refresh_from_db()
    dunning_tick(now=case.next_action_at, discover=False)  # the first retry, day 1
    case.refresh_from_db()
    assert case.status == "recovered" and case.recovered_channel == "retry"
    assert case.amount_recovered == subscription.amount and case.next_action_at is None
    attempt = case.attempts.get()
    assert attempt.payment_method_id == good and attempt.status == "succeeded"
    subscription.refresh_from_db()
    renewal_order = Order.objects.get(pk=renewal.order_id)
    assert renewal_order.status == "paid" and hasattr(renewal_order, "entitlement")
    # The subscription renews again, from the period that was paid for.
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.current_period_start == due
    assert subscription.next_charge_at > due


def test_a_renewal_the_bank_wants_authenticated_opens_a_customer_action_case(localstripe):
    from tests.dunning.factories import THREE_DS

    subscription = subscribed()
    three_ds = card_payment_method(THREE_DS)
    customer_card_save(customer=subscription.customer, payment_method_id=three_ds)
    subscription_card_replace(
        subscription_id=subscription.pk, customer=subscription.customer, payment_method_id=three_ds
    )
    renewal = subscription_renew(
        subscription_id=subscription.pk, now=subscription.next_charge_at + timedelta(minutes=1)
    )
    # Off-session, Stripe declines it with authentication_required (no blind retries follow).
    assert (renewal.status, renewal.decline_code) == ("failed", "authentication_required")

    dunning_tick(now=timezone.now() + timedelta(minutes=1), discover=True)
    case = DunningCase.objects.get()
    assert (case.cause, case.category, case.decline_code) == (
        "renewal",
        "customer_action",
        "authentication_required",
    )
    assert case.status == "awaiting_customer"  # no blind retries of a card that needs 3DS


def test_a_deposit_balance_gets_a_reminder_before_it_is_due_and_a_case_when_overdue(localstripe):
    offer = OfferFactory(
        billing_type="deposit", price_amount=50_000, deposit_amount=10_000, balance_due_days=30
    )
    lead = buyer()
    order = order_create(
        offer=offer, checkout_token=uuid.uuid4(), email=lead.email, name=lead.name,
        billing_country="GB", lead=lead,
    )  # fmt: skip
    from tests.checkout.saved_cards import checkout_pay_with

    assert checkout_pay_with(order, VISA).status == "succeeded"
    order.refresh_from_db()
    assert order.status == "partially_paid" and order.balance == 40_000
    kinds = dict(DunningTrigger.objects.filter(order=order).values_list("kind", "due_at"))
    assert kinds == {
        "deposit_overdue": order.balance_due_at,
        "deposit_due_soon": order.balance_due_at - timedelta(days=3),
    }
    mail.outbox.clear()

    dunning_tick(now=order.balance_due_at - timedelta(days=2), discover=False)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(f"The balance for {offer.name} is due on ")
    assert "Nothing is taken automatically" in mail.outbox[0].body
    assert "/account/" in mail.outbox[0].body
    assert not DunningCase.objects.exists()

    dunning_tick(now=order.balance_due_at + timedelta(hours=10), discover=False)
    case = DunningCase.objects.get()
    assert (case.cause, case.amount, case.category) == ("deposit", 40_000, "soft")
    assert case.decline_code == "balance_due"
    # A deposit's balance is never taken automatically (the terms say so): no retries.
    assert case.status == "awaiting_customer"
    if case.next_step == 0:  # the first email waits out the buyer's quiet hours, if any
        dunning_tick(now=case.next_action_at, discover=False)
    assert len(mail.outbox) == 2 and "/pay/" in mail.outbox[1].body
    assert "balance for your order is now due" in mail.outbox[1].body


def test_a_refund_of_the_order_cancels_its_case(localstripe, client):
    order, _payment = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case = case_opened(order)
    # Money arrives another way (a partial transfer) and is then refunded in full.
    other = Payment.objects.create(
        order=order, idempotency_key="test:transfer", amount=500, currency="eur",
        attempt_kind="manual",
    )  # fmt: skip
    payment_transition(payment_id=other.pk, to_status="succeeded", cause="test",
                       fields={"amount_received": 500})  # fmt: skip
    case.refresh_from_db()
    assert case.status == "retry_scheduled"  # 500 does not cover what is owed
    payment_transition(payment_id=other.pk, to_status="refunded", cause="test",
                       fields={"amount_refunded": 500})  # fmt: skip
    case.refresh_from_db()
    assert case.status == "canceled" and case.next_action_at is None
    cancel = case.events.get(to_status="canceled", outcome="applied")
    assert cancel.cause in ("order_refunded", "payment_refunded")


def test_a_refundable_hold_is_never_dunned(localstripe):
    offer = OfferFactory(billing_type="hold", price_amount=30_000)
    order, _ = checkout_declined(offer=offer)
    assert Notification.objects.filter(order=order, kind="payment_failed").exists()
    dunning_tick(now=after_grace(), discover=True)
    assert not DunningCase.objects.exists()


def test_the_case_is_owned_by_the_leads_sales_owner_or_sits_in_the_shared_queue(
    localstripe, client
):
    from tests.leads.factories import SalesUserFactory

    order, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    assert case_opened(order).owner is None  # no owner: the shared Sales queue

    sales = SalesUserFactory()
    other, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    other.lead.owner = sales
    other.lead.save(update_fields=["owner"])
    DunningTrigger.objects.filter(order=other).update(due_at=timezone.now())
    dunning_tick(now=after_grace(), discover=False)
    assert DunningCase.objects.get(order=other).owner == sales
