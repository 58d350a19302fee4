"""A Stripe answer lost on the way back: the payment is `unknown`, then reconciled by retrieving
it, never by creating a second PaymentIntent."""

import uuid

import pytest

from checkout.services.checkout import checkout_pay, checkout_refresh
from checkout.services.orders import order_create
from payments import gateway
from payments.models import Payment
from tests.checkout.cards import VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.lossy_stripe import answers_lost

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lossy_stripe(localstripe, settings):
    with answers_lost(settings, localstripe, lose="/confirm") as server:
        yield server


def test_a_lost_confirm_answer_is_reconciled_without_a_second_intent(
    lossy_stripe, localstripe, settings
):
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="tim@example.com", name="Tim",
        billing_country="GB",
    )  # fmt: skip
    pm = card_payment_method(VISA)

    outcome = checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None)
    assert outcome.status == Payment.Status.UNKNOWN
    # The buyer clicks again: same attempt, same row, no new intent.
    assert (
        checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None).payment.pk
        == outcome.payment.pk
    )

    settings.STRIPE_API_BASE = localstripe.api_base  # Stripe answers again
    refreshed = checkout_refresh(order_id=order.pk)
    assert refreshed.status == Payment.Status.SUCCEEDED
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip
    assert len(intents) == 1 and Payment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == "paid"
