import uuid

import pytest
from django.contrib.auth import get_user_model

from checkout.services.orders import order_create
from config.models import AuditLogEntry
from payments import gateway
from payments.models import Payment
from payments.services.capture import PaymentNotHeld, payment_capture, payment_release
from tests.checkout.cards import VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hold(localstripe):
    order = order_create(
        offer=OfferFactory(billing_type="hold", price_amount=30_000),
        checkout_token=uuid.uuid4(),
        email="hal@example.com",
        name="Hal",
        billing_country="GB",
    )
    return checkout_pay_with(order, VISA, ip=None).payment


@pytest.fixture
def finance_user():
    return get_user_model().objects.create_user("fran", is_staff=True)


def test_capturing_a_hold_takes_the_money_once(hold, finance_user):
    payment = payment_capture(payment=hold, actor=finance_user)
    assert payment.status == Payment.Status.SUCCEEDED and payment.amount_received == 30_000
    assert gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).status == "succeeded"
    assert AuditLogEntry.objects.filter(action="payment.capture", actor=finance_user).count() == 1
    assert payment.events.filter(cause="staff_capture", actor=finance_user).exists()
    with pytest.raises(PaymentNotHeld):
        payment_capture(payment=payment, actor=finance_user)


def test_a_partial_capture_records_what_was_taken(hold, finance_user):
    from checkout.models import Entitlement, Notification, Order
    from checkout.services.accounting import order_payment_record

    payment = payment_capture(payment=hold, actor=finance_user, amount=12_000)
    assert payment.status == Payment.Status.SUCCEEDED
    # What Stripe took, not what was authorised (the rest went back to the buyer's bank).
    assert (payment.amount, payment.amount_received) == (30_000, 12_000)
    assert gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).amount_received == (
        12_000
    )

    # Captured for less: the rest is released, never owed, and is not a refund.
    order = order_payment_record(payment_id=payment.pk, cause="staff_capture")
    assert (order.status, order.amount_paid, order.amount_refunded, order.balance) == (
        Order.Status.PAID,
        12_000,
        0,
        0,
    )
    assert Entitlement.objects.get(order=order).status == Entitlement.Status.ACTIVE
    kinds = set(Notification.objects.filter(order=order).values_list("kind", flat=True))
    assert Notification.Kind.REFUND_ISSUED not in kinds


@pytest.mark.parametrize("amount", [0, -5, 30_001, 1.5])
def test_a_capture_amount_outside_the_hold_is_refused(hold, finance_user, amount):
    with pytest.raises(PaymentNotHeld):
        payment_capture(payment=hold, actor=finance_user, amount=amount)
    hold.refresh_from_db()
    assert hold.status == Payment.Status.AUTHORIZED


def test_releasing_a_hold_cancels_it(hold, finance_user):
    payment = payment_release(payment=hold, actor=finance_user)
    assert payment.status == Payment.Status.CANCELED
    assert gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).status == "canceled"
    assert AuditLogEntry.objects.filter(action="payment.release").count() == 1
    with pytest.raises(PaymentNotHeld):
        payment_release(payment=payment, actor=finance_user)


def test_the_admin_release_action_cancels_the_hold_and_the_order(hold, client):
    from checkout.models import Order

    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    client.force_login(admin_user)
    response = client.post(
        "/admin/checkout/order/",
        {"action": "release_hold", "_selected_action": [hold.order_id]},
        follow=True,
    )
    assert "hold released" in response.content.decode()
    hold.refresh_from_db()
    assert hold.status == Payment.Status.CANCELED
    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.CANCELED and order.amount_authorized == 0


def test_releasing_a_hold_takes_back_the_access_it_granted(hold, client):
    from checkout.models import Entitlement, Order

    # A hold grants access at authorisation (the money is secured)...
    entitlement = Entitlement.objects.get(order_id=hold.order_id)
    assert entitlement.status == Entitlement.Status.ACTIVE
    assert entitlement.granted_by_payment_id == hold.pk

    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    client.force_login(admin_user)
    client.post(
        "/admin/checkout/order/",
        {"action": "release_hold", "_selected_action": [hold.order_id]},
        follow=True,
    )

    # ...and once the hold is released no money is kept, so the access ends with it.
    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.CANCELED and order.amount_paid == 0
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.REVOKED and entitlement.revoked_at
    assert entitlement.events.filter(to_status="revoked", cause="order_canceled").count() == 1


@pytest.mark.usefixtures("celery_eager")  # the payment's signal reaches checkout inline
def test_a_capture_whose_answer_was_lost_is_not_reported_as_done(
    hold, client, localstripe, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from checkout.models import Order
    from payments.services.reconciliation import payments_reconcile
    from tests.lossy_stripe import answers_lost

    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    client.force_login(admin_user)
    with answers_lost(settings, localstripe, lose="/capture"):
        page = client.post(
            "/admin/checkout/order/",
            {"action": "capture_hold", "_selected_action": [hold.order_id]},
            follow=True,
        ).content.decode()
    assert "Stripe did not answer in time" in page and "captured" not in page
    hold.refresh_from_db()
    assert hold.status == Payment.Status.UNKNOWN
    assert hold.events.filter(cause="timeout_on_capture").count() == 1
    assert Order.objects.get(pk=hold.order_id).status == Order.Status.AWAITING_PAYMENT

    # Stripe did take the money: reconciliation reads it, and the order is paid once.
    payments_reconcile(now=timezone.now() + timedelta(hours=1))
    hold.refresh_from_db()
    assert hold.status == Payment.Status.SUCCEEDED and hold.amount_received == 30_000
    order = Order.objects.get(pk=hold.order_id)
    assert (order.status, order.amount_paid, order.balance) == (Order.Status.PAID, 30_000, 0)


def test_a_release_stripe_refuses_is_a_message_not_an_error_page(hold, client):
    # Stripe already canceled the intent (in the Dashboard), and its webhook is not in yet.
    gateway.payment_intent_cancel(hold.stripe_payment_intent_id, idempotency_key="dashboard")
    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    client.force_login(admin_user)

    response = client.post(
        "/admin/checkout/order/",
        {"action": "release_hold", "_selected_action": [hold.order_id]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Stripe refused the release" in response.content.decode()
    hold.refresh_from_db()
    assert hold.status == Payment.Status.AUTHORIZED  # the webhook will say what happened
