"""D2: Stripe's news of a refund arrives before the news of the success it refunds."""

import pytest

from checkout.models import Entitlement, Notification, Order
from payments import gateway
from payments.models import Payment, WebhookEvent
from payments.services import customer_ensure, payment_prepare
from tests.checkout.factories import OrderFactory
from tests.payments.factories import charge_object, intent_event
from tests.stripe_helpers import stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_a_refund_heard_before_the_success_never_grants_access_or_confirms(deliver, localstripe):
    order = OrderFactory(email="early@example.com")
    customer = customer_ensure(email=order.email, name=order.name)
    payment = payment_prepare(
        idempotency_key=f"order:{order.pk}:checkout:1",
        amount=order.total,
        currency=order.currency,
        customer=customer,
        payment_method_id="pm_card_visa",
        order_id=order.pk,
    )
    # Stripe took the money and refunded it in full; none of that has reached us yet.
    intent = gateway.payment_intent_create(
        amount=order.total,
        currency=order.currency,
        payment_method="pm_card_visa",
        confirm=True,
        metadata={"payment_id": str(payment.pk)},
        idempotency_key=f"test:{payment.pk}",
    )
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id=intent.id, status=Payment.Status.PROCESSING
    )
    payment.refresh_from_db()
    gateway.refund_create(
        payment_intent_id=intent.id, amount=order.total, idempotency_key="r", metadata={}
    )

    refunded = charge_object(payment, amount_refunded=order.total, refunded=True)
    assert deliver(stripe_event("charge.refunded", refunded)).status_code == 200
    assert deliver(intent_event(payment, "payment_intent.succeeded")).status_code == 200

    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert order.status == Order.Status.REFUNDED
    assert (order.amount_paid, order.amount_refunded, order.balance) == (order.total,) * 2 + (0,)
    assert list(order.events.values_list("to_status", flat=True)) == ["paid", "refunded"]
    assert not Entitlement.objects.filter(order=order, status=Entitlement.Status.ACTIVE).exists()
    kinds = list(order.notifications.values_list("kind", flat=True))
    assert Notification.Kind.PAYMENT_CONFIRMED not in kinds
    assert kinds == [Notification.Kind.REFUND_ISSUED]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
