"""The signal → receiver → task path, with a real Celery worker on the real broker."""

import pytest

from checkout.models import Entitlement, Notification, Order
from checkout.services.accounting import order_payment_record
from payments.models import Payment
from payments.services import customer_ensure, payment_start, payment_transition
from tests.checkout.factories import OrderFactory, PaymentFactory
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _sent(order, kind):
    return Notification.objects.filter(
        order=order, kind=kind, status=Notification.Status.SENT
    ).count()


def test_server_confirm_and_the_signal_task_give_one_entitlement_and_one_email(
    localstripe, celery_worker
):
    order = OrderFactory()
    customer = customer_ensure(email=order.email, name=order.name)
    payment = payment_start(
        idempotency_key=f"order:{order.pk}:checkout",
        amount=order.total,
        currency=order.currency,
        customer=customer,
        payment_method_id="pm_card_visa",
        order_id=order.pk,
    )
    # The checkout flow records it at once; the succeeded signal's task does it again in the
    # worker, whichever comes first.
    order_payment_record(payment_id=payment.pk)

    wait_until(lambda: _sent(order, Notification.Kind.PAYMENT_CONFIRMED) == 1)
    # A webhook redelivery: the same news again, through the worker.
    payment_transition(payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="again")
    from checkout.tasks import order_payment_record_task

    order_payment_record_task.delay(payment.pk)
    wait_until(lambda: Order.objects.get(pk=order.pk).status == Order.Status.PAID)

    assert Entitlement.objects.filter(order=order).count() == 1
    assert Notification.objects.filter(order=order).count() == 1


def test_dispute_refund_and_failure_signals_reach_the_order_through_the_worker(
    checkout_alone, celery_worker
):
    order = OrderFactory()
    payment = PaymentFactory(order=order)
    payment_transition(
        payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="webhook",
        fields={"amount_received": payment.amount},
    )  # fmt: skip
    wait_until(lambda: Entitlement.objects.filter(order=order).exists())

    payment_transition(payment_id=payment.pk, to_status=Payment.Status.DISPUTED, cause="webhook")
    wait_until(lambda: Entitlement.objects.get(order=order).status == Entitlement.Status.SUSPENDED)
    payment_transition(payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="won")
    wait_until(lambda: Entitlement.objects.get(order=order).status == Entitlement.Status.ACTIVE)

    payment_transition(
        payment_id=payment.pk, to_status=Payment.Status.REFUNDED, cause="webhook",
        fields={"amount_refunded": payment.amount},
    )  # fmt: skip
    wait_until(lambda: Entitlement.objects.get(order=order).status == Entitlement.Status.REVOKED)
    wait_until(lambda: _sent(order, Notification.Kind.REFUND_ISSUED) == 1)
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED

    other = OrderFactory()
    failed = PaymentFactory(order=other)
    payment_transition(
        payment_id=failed.pk, to_status=Payment.Status.FAILED, cause="webhook",
        fields={"failure_code": "card_declined", "decline_code": "expired_card"},
    )  # fmt: skip
    wait_until(lambda: _sent(other, Notification.Kind.PAYMENT_FAILED) == 1)
    assert Order.objects.get(pk=other.pk).status == Order.Status.FAILED


def test_a_payment_without_an_order_is_ignored(celery_eager):
    payment = PaymentFactory(order=None, amount=500, currency="eur")
    payment_transition(
        payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="webhook",
        fields={"amount_received": 500},
    )  # fmt: skip
    assert not Notification.objects.exists()
