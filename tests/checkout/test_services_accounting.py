"""Order accounting against the real database and the real payment state machine."""

import threading

import pytest
from django.core import mail
from django.db import connection

from checkout.models import Entitlement, Notification, Offer, Order, OrderEvent
from checkout.services.accounting import order_payment_record
from payments.models import Discrepancy, Payment
from payments.services import customer_ensure, payment_start, payment_transition
from tests.checkout.factories import OfferFactory, OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)

_P = Payment.Status


def _pay(payment, *, received=None, status=_P.SUCCEEDED):
    """Move a factory payment through the real state machine to `status`."""
    fields = {"amount_received": payment.amount if received is None else received}
    if status == _P.AUTHORIZED:
        fields = {}
    payment, outcome = payment_transition(
        payment_id=payment.pk, to_status=status, cause="test", fields=fields
    )
    assert outcome == "applied"
    return payment


def _kinds(order):
    return sorted(order.notifications.values_list("kind", flat=True))


def test_a_card_payment_against_localstripe_pays_the_order_and_grants_access_once(
    localstripe, celery_eager
):
    order = OrderFactory(email="ada@example.com")
    customer = customer_ensure(email=order.email, name=order.name)
    payment = payment_start(
        idempotency_key=f"order:{order.pk}:checkout",
        amount=order.total,
        currency=order.currency,
        customer=customer,
        payment_method_id="pm_card_visa",
        order_id=order.pk,
    )
    assert payment.status == _P.SUCCEEDED

    # The server confirm records it (the signal's task ran too, eagerly), then the webhook's
    # task records it again: one entitlement, one email.
    order = order_payment_record(payment_id=payment.pk)
    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.PAID
    assert (order.amount_paid, order.balance, order.amount_refunded) == (order.total, 0, 0)
    assert order.paid_at is not None
    assert Entitlement.objects.filter(order=order).count() == 1
    entitlement = order.entitlement
    assert entitlement.status == Entitlement.Status.ACTIVE
    assert entitlement.granted_by_payment_id == payment.pk
    assert _kinds(order) == [Notification.Kind.PAYMENT_CONFIRMED]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert entitlement.access_code in email.body
    assert "€120.00" in email.body
    assert "support@example.com" in email.body
    assert list(order.events.values_list("to_status", flat=True)) == ["paid"]
    assert not Discrepancy.objects.exists()


def test_concurrent_records_from_threads_grant_one_entitlement_and_one_email(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order))
    barrier = threading.Barrier(6)
    errors = []

    def record():
        try:
            barrier.wait()
            order_payment_record(payment_id=payment.pk)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert Entitlement.objects.filter(order=order).count() == 1
    assert Notification.objects.filter(order=order).count() == 1
    assert len(mail.outbox) == 1
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1


def test_a_partial_payment_opens_a_discrepancy_and_asks_for_the_balance(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order, amount=order.total), received=5_000)

    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.PARTIALLY_PAID
    assert (order.amount_paid, order.balance) == (5_000, 7_000)
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.amount, discrepancy.order_id) == (
        Discrepancy.Kind.PARTIAL_PAYMENT,
        7_000,
        order.pk,
    )
    assert not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [Notification.Kind.BALANCE_DUE]
    body = mail.outbox[0].body
    assert "€70.00" in body and "/account/" in body


def test_a_deposit_grants_access_and_leaves_a_balance_without_a_discrepancy(celery_eager):
    offer = OfferFactory(
        billing_type=Offer.BillingType.DEPOSIT, price_amount=30_000, deposit_amount=9_000
    )
    order = OrderFactory(offer=offer, amount_due_now=9_000)
    deposit = _pay(PaymentFactory(order=order, amount=9_000))

    order = order_payment_record(payment_id=deposit.pk)
    assert order.status == Order.Status.PARTIALLY_PAID
    assert (order.amount_paid, order.balance) == (9_000, 21_000)
    assert order.entitlement.status == Entitlement.Status.ACTIVE
    assert not Discrepancy.objects.exists()
    assert "€210.00 is still to pay" in mail.outbox[0].body

    balance = _pay(
        PaymentFactory(order=order, amount=21_000, attempt_kind=Payment.AttemptKind.BALANCE)
    )
    order = order_payment_record(payment_id=balance.pk)
    assert order.status == Order.Status.PAID
    assert order.balance == 0
    assert not Discrepancy.objects.exists()
    assert Entitlement.objects.filter(order=order).count() == 1
    assert _kinds(order) == ["payment_confirmed", "payment_confirmed"]


def test_an_overpayment_is_detected_and_the_customer_told_it_will_be_refunded(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order, amount=15_000))

    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.PAID
    d = Discrepancy.objects.get()
    assert (d.kind, d.amount) == (Discrepancy.Kind.OVERPAYMENT, 3_000)
    assert order.entitlement.status == Entitlement.Status.ACTIVE
    assert _kinds(order) == [Notification.Kind.OVERPAYMENT]
    assert "€30.00" in mail.outbox[0].body and "refund" in mail.outbox[0].body


def test_two_successful_payments_for_one_order_flag_the_second_as_a_duplicate(celery_eager):
    order = OrderFactory()
    first = _pay(PaymentFactory(order=order))
    second = _pay(PaymentFactory(order=order))

    # Processed in the opposite order to the money's arrival: the answer is the same.
    order_payment_record(payment_id=second.pk)
    order = order_payment_record(payment_id=first.pk)

    d = Discrepancy.objects.get()
    assert (d.kind, d.payment_id, d.amount) == (
        Discrepancy.Kind.DUPLICATE_PAYMENT,
        second.pk,
        12_000,
    )
    assert order.amount_paid == 24_000 and order.balance == 0
    assert Entitlement.objects.filter(order=order).count() == 1
    assert sorted(_kinds(order)) == ["duplicate_payment", "payment_confirmed"]


def test_a_payment_on_a_canceled_order_is_flagged_and_grants_nothing(celery_eager):
    order = OrderFactory(status=Order.Status.CANCELED)
    payment = _pay(PaymentFactory(order=order))

    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.CANCELED
    assert order.balance == 0
    d = Discrepancy.objects.get()
    assert (d.kind, d.amount) == (Discrepancy.Kind.PAYMENT_ON_CANCELED_ORDER, 12_000)
    assert not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [Notification.Kind.PAYMENT_ON_CANCELED_ORDER]


def test_a_hold_grants_access_at_authorisation_and_counts_as_secured_not_paid(celery_eager):
    offer = OfferFactory(billing_type=Offer.BillingType.HOLD)
    order = OrderFactory(offer=offer)
    hold = _pay(
        PaymentFactory(order=order, capture_method=Payment.CaptureMethod.MANUAL),
        status=_P.AUTHORIZED,
    )

    order = order_payment_record(payment_id=hold.pk)
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert (order.amount_paid, order.amount_authorized, order.balance) == (0, 12_000, 0)
    assert order.entitlement.status == Entitlement.Status.ACTIVE
    assert _kinds(order) == [Notification.Kind.PAYMENT_ON_HOLD]

    # Captured for less than was held: the rest is released, not owed, and not a discrepancy.
    _pay(hold, received=8_000)
    order = order_payment_record(payment_id=hold.pk)
    assert order.status == Order.Status.PAID
    assert (order.amount_paid, order.amount_authorized, order.balance) == (8_000, 0, 0)
    assert not Discrepancy.objects.exists()
    assert _kinds(order) == ["payment_confirmed", "payment_on_hold"]


def test_a_failed_payment_fails_the_order_and_tells_the_buyer_what_to_do(
    checkout_alone, celery_eager
):
    order = OrderFactory()
    payment = PaymentFactory(order=order)
    payment_transition(
        payment_id=payment.pk,
        to_status=_P.FAILED,
        cause="test",
        fields={"failure_code": "card_declined", "decline_code": "insufficient_funds"},
    )

    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.FAILED
    assert order.balance == order.total
    assert _kinds(order) == [Notification.Kind.PAYMENT_FAILED]
    body = mail.outbox[0].body
    assert "not enough money" in body and "use another card" in body


def test_a_full_refund_refunds_the_order_revokes_access_and_tells_the_buyer(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order))
    order_payment_record(payment_id=payment.pk)

    payment_transition(
        payment_id=payment.pk, to_status=_P.PARTIALLY_REFUNDED, cause="test",
        fields={"amount_refunded": 2_000},
    )  # fmt: skip
    order = order_payment_record(payment_id=payment.pk)
    assert order.status == Order.Status.PAID
    assert order.amount_refunded == 2_000
    assert order.entitlement.status == Entitlement.Status.ACTIVE

    payment_transition(
        payment_id=payment.pk, to_status=_P.REFUNDED, cause="test",
        fields={"amount_refunded": 12_000},
    )  # fmt: skip
    order = order_payment_record(payment_id=payment.pk)
    order = order_payment_record(payment_id=payment.pk)
    assert order.status == Order.Status.REFUNDED
    assert (order.amount_refunded, order.balance) == (12_000, 0)
    order.entitlement.refresh_from_db()
    assert order.entitlement.status == Entitlement.Status.REVOKED
    assert _kinds(order) == ["payment_confirmed", "refund_issued", "refund_issued"]
    assert "€20.00" in mail.outbox[1].body
    assert "€120.00" in mail.outbox[2].body and "access to it has ended" in mail.outbox[2].body


def test_a_dispute_suspends_access_and_a_won_dispute_restores_it(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order))
    order_payment_record(payment_id=payment.pk)

    payment_transition(payment_id=payment.pk, to_status=_P.DISPUTED, cause="test")
    order_payment_record(payment_id=payment.pk)
    entitlement = Entitlement.objects.get(order=order)
    assert entitlement.status == Entitlement.Status.SUSPENDED

    payment_transition(payment_id=payment.pk, to_status=_P.SUCCEEDED, cause="dispute_won")
    order = order_payment_record(payment_id=payment.pk)
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.ACTIVE
    assert order.status == Order.Status.PAID
    assert list(entitlement.events.values_list("cause", flat=True)) == [
        "payment",
        "dispute_opened",
        "dispute_won",
    ]
    assert _kinds(order) == ["payment_confirmed"]  # no second confirmation


def test_a_lost_dispute_revokes_access(celery_eager):
    order = OrderFactory()
    payment = _pay(PaymentFactory(order=order))
    order_payment_record(payment_id=payment.pk)
    payment_transition(payment_id=payment.pk, to_status=_P.DISPUTED, cause="test")
    order_payment_record(payment_id=payment.pk)

    payment_transition(payment_id=payment.pk, to_status=_P.REFUNDED, cause="dispute_lost")
    order = order_payment_record(payment_id=payment.pk)

    assert order.status == Order.Status.REFUNDED
    assert order.entitlement.status == Entitlement.Status.REVOKED
    assert order.entitlement.events.last().cause == "dispute_lost"
    assert _kinds(order) == ["payment_confirmed"]  # a lost dispute is not a refund we issued


def test_an_order_under_review_gets_access_only_when_staff_release_it(celery_eager):
    from checkout.services.accounting import order_review_release

    order = OrderFactory(needs_review=True, review_reason="Radar score 80")
    payment = _pay(PaymentFactory(order=order))

    order = order_payment_record(payment_id=payment.pk)
    assert order.status == Order.Status.PAID
    assert not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [Notification.Kind.PAYMENT_UNDER_REVIEW]

    order = order_review_release(order_id=order.pk)
    order_review_release(order_id=order.pk)
    assert not order.needs_review
    assert order.entitlement.status == Entitlement.Status.ACTIVE
    assert _kinds(order) == ["payment_confirmed", "payment_under_review"]
    assert order.entitlement.access_code in mail.outbox[-1].body
