import threading
import uuid

import pytest
from django.db import connection, transaction

from checkout.models import Order, Subscription
from checkout.services.checkout import (
    CheckoutBlocked,
    checkout_pay,
    checkout_refresh,
    checkout_setup_start,
    decline_message,
)
from checkout.services.orders import OrderNotPayable, order_create
from payments import gateway
from payments.models import Payment
from tests.checkout.cards import DECLINED, THREE_DS, VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import card_saved, checkout_pay_with
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _order(offer=None, email="ada@example.com", **kwargs):
    return order_create(
        offer=offer or OfferFactory(),
        checkout_token=uuid.uuid4(),
        email=email,
        name="Ada",
        billing_country="GB",
        ip_address="203.0.113.5",
        **kwargs,
    )


def _intents_for(order):
    return [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip


def test_a_card_payment_succeeds(localstripe):
    order = _order()
    assert checkout_setup_start(order=order).startswith("seti_")

    outcome = checkout_pay_with(order, VISA, ip="203.0.113.5")

    assert outcome.status == Payment.Status.SUCCEEDED
    payment = outcome.payment
    assert payment.idempotency_key == f"order:{order.pk}:checkout:1"
    assert (payment.amount, payment.currency, payment.order_id) == (order.total, "eur", order.pk)
    assert payment.customer.card_last4 == "4242"
    assert payment.metadata["buyer_email"] == "ada@example.com"
    order.refresh_from_db()
    assert order.checkout_attempt == 1
    # Recorded synchronously: paid, and the access granted before the page loads.
    assert order.status == Order.Status.PAID and order.amount_paid == order.total
    assert order.entitlement.granted_by_payment_id == payment.pk


def test_a_decline_then_another_card_is_a_new_attempt_and_a_new_intent(localstripe):
    order = _order()
    declined = card_saved(order, DECLINED)
    outcome = checkout_pay_with(order, declined, ip="203.0.113.5")
    assert outcome.status == "failed"
    assert "declined" in outcome.message and "Nothing was charged" in outcome.message
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED

    # The same card again (a double click) lands on the same failed attempt: no new intent.
    again = checkout_pay_with(order, declined, ip="203.0.113.5")
    assert again.payment.pk == outcome.payment.pk and len(_intents_for(order)) == 1

    retry = checkout_pay_with(order, VISA, ip="203.0.113.5")
    assert retry.status == Payment.Status.SUCCEEDED
    assert retry.payment.idempotency_key == f"order:{order.pk}:checkout:2"
    assert len(_intents_for(order)) == 2
    order.refresh_from_db()
    assert order.status != Order.Status.FAILED


def test_a_3ds_card_asks_the_page_for_the_banks_check(localstripe):
    order = _order()
    outcome = checkout_pay_with(order, THREE_DS, ip=None)
    assert outcome.status == Payment.Status.REQUIRES_ACTION
    assert outcome.client_secret.startswith(outcome.payment.stripe_payment_intent_id)
    # Until the buyer completes it, refreshing retrieves and changes nothing.
    assert checkout_refresh(order_id=order.pk).status == Payment.Status.REQUIRES_ACTION
    assert len(_intents_for(order)) == 1


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction pg_stat_activity is a snapshot taken at first read: drop it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_ten_concurrent_pay_submissions_create_exactly_one_payment_intent(localstripe):
    order = _order()
    pm = card_saved(order, VISA)
    barrier = threading.Barrier(10)
    results, errors = [], []

    def click():
        try:
            barrier.wait()
            results.append(checkout_pay_with(order, pm, ip="198.51.100.1").payment.pk)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(10)]
    # Hold the order's row lock until all ten clicks are queued on it in Postgres. Otherwise a
    # loaded machine can let the first click finish the whole payment (the order is then paid
    # and a late click is rightly refused) before a slow thread has even started. Queued first,
    # every click takes the order's lock before the first can record the payment (that takes
    # the same lock, behind them), so all ten race for the same attempt.
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)
        for t in threads:
            t.start()
        wait_until(
            lambda: _waiting_for_a_lock() == 10,
            timeout=30,
            message="the ten clicks did not all queue on the order's lock",
        )
    for t in threads:
        t.join(60)

    assert errors == []
    assert len(results) == 10 and len(set(results)) == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert len(_intents_for(order)) == 1
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED


def test_a_hold_offer_only_authorises(localstripe):
    order = _order(OfferFactory(billing_type="hold", price_amount=30_000))
    outcome = checkout_pay_with(order, VISA, ip=None)
    assert outcome.status == Payment.Status.AUTHORIZED
    assert outcome.payment.capture_method == "manual" and outcome.payment.amount_received == 0


def test_a_deposit_offer_charges_the_deposit_and_leaves_the_balance(localstripe):
    offer = OfferFactory(
        billing_type="deposit", price_amount=50_000, deposit_amount=10_000, balance_due_days=30
    )
    order = _order(offer)
    assert (order.amount_due_now, order.balance) == (10_000, 40_000) and order.balance_due_at
    outcome = checkout_pay_with(order, VISA, ip=None)
    assert outcome.status == Payment.Status.SUCCEEDED and outcome.payment.amount == 10_000


def test_a_recurring_offer_saves_the_card_and_what_renewal_needs(localstripe):
    order = _order(OfferFactory(billing_type="recurring", interval="year", price_amount=9_900))
    outcome = checkout_pay_with(order, VISA, ip=None)
    subscription = Subscription.objects.get(order=order)
    assert subscription.payment_method_id == outcome.payment.payment_method_id
    assert subscription.customer.card_last4 == "4242"
    assert subscription.customer == order.customer and not order.customer.email_verified
    assert (subscription.amount, subscription.interval) == (9_900, "year")
    assert subscription.next_charge_at.year == outcome.payment.succeeded_at.year + 1


def test_repeated_failures_by_one_email_block_with_a_flag_for_staff(localstripe, settings):
    settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_EMAIL = 2
    for _ in range(2):
        order = _order(email="mallory@example.com")
        checkout_pay_with(order, DECLINED, ip=None)
    order = _order(email="mallory@example.com")
    with pytest.raises(CheckoutBlocked) as exc:
        checkout_pay_with(order, VISA, ip=None)
    assert "paused card payments" in str(exc.value)
    order.refresh_from_db()
    assert order.needs_review and "email" in order.review_reason
    assert not Payment.objects.filter(order=order).exists()
    # A flagged order stays blocked until staff clear it.
    with pytest.raises(CheckoutBlocked):
        checkout_pay_with(order, VISA, ip=None)


def test_repeated_failures_of_one_card_across_emails_block(localstripe, settings):
    settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD = 2
    pm_numbers = [DECLINED, DECLINED]
    for i, number in enumerate(pm_numbers):
        order = _order(email=f"card{i}@example.com")
        checkout_pay_with(order, number, ip=None)
    order = _order(email="card9@example.com")
    with pytest.raises(CheckoutBlocked):
        checkout_pay_with(order, DECLINED, ip=None)
    order.refresh_from_db()
    assert "card" in order.review_reason


@pytest.mark.parametrize("pm", ["", "4242424242424242", "pm_x; drop", "tok_visa"])
def test_a_missing_or_raw_card_is_refused(localstripe, pm):
    order = _order()
    with pytest.raises(OrderNotPayable):
        checkout_pay(order_id=order.pk, payment_method_id=pm, setup_intent_id="", ip=None)


def test_a_currency_mismatch_between_order_and_offer_is_refused(localstripe):
    order = _order()
    order.offer.currency = "USD"
    order.offer.save()
    with pytest.raises(OrderNotPayable) as exc:
        checkout_pay_with(order, VISA, ip=None)
    assert "start again" in str(exc.value)


def test_a_paid_order_cannot_be_paid_again(localstripe):
    order = _order()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    with pytest.raises(OrderNotPayable):
        checkout_pay_with(order, VISA, ip=None)


def test_stripes_own_amount_too_small_is_not_blamed_on_the_card():
    # Should Stripe's minimum still be above ours (a currency not in CHECKOUT_MIN_AMOUNTS).
    message = decline_message(Payment(failure_code="amount_too_small"))
    assert message.startswith("This offer cannot be paid by card right now")
    assert "another card" not in message
