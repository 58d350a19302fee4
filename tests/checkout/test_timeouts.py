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


@pytest.mark.parametrize(
    ("status", "acts"),
    [(500, True), (503, False), (429, False)],
    ids=["server-error-after-stripe-acted", "unavailable", "rate-limited"],
)
def test_a_stripe_server_error_or_rate_limit_is_unknown_never_a_decline(
    localstripe, settings, status, acts
):
    """A 5xx may come after Stripe charged the card; a 429 is not about the card either. The
    buyer must never be told the card failed (they would pay again with another card)."""
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="sam@example.com", name="Sam",
        billing_country="GB",
    )  # fmt: skip
    with answers_lost(settings, localstripe, lose="/confirm", acts=acts, status=status):
        outcome = checkout_pay(
            order_id=order.pk, payment_method_id=card_payment_method(VISA), ip=None
        )
    payment = outcome.payment
    assert outcome.status == Payment.Status.UNKNOWN
    assert payment.events.filter(cause="timeout_on_confirm").count() == 1
    assert not payment.failure_code and not payment.events.filter(to_status="failed").exists()

    # Stripe answers again: what happened is read back, never charged a second time.
    refreshed = checkout_refresh(order_id=order.pk)
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip
    assert len(intents) == 1 and Payment.objects.filter(order=order).count() == 1
    if acts:
        assert refreshed.status == Payment.Status.SUCCEEDED
    else:
        # Stripe never confirmed: the attempt waits for its confirm again, and the buyer's
        # next click confirms the same intent (under a new key) instead of being stuck.
        assert intents[0].status != "succeeded"
        assert refreshed.status == Payment.Status.REQUIRES_PAYMENT_METHOD
        again = checkout_pay(
            order_id=order.pk, payment_method_id=card_payment_method(VISA), ip=None
        )
        assert again.payment.pk == payment.pk and again.status == Payment.Status.SUCCEEDED
        assert again.payment.stripe_payment_intent_id == intents[0].id
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_paid == order.total
    assert Payment.objects.filter(order=order).count() == 1


def test_a_lost_create_answer_is_found_by_metadata_and_finished_on_the_next_click(
    localstripe, settings
):
    """Stripe created the intent but we never heard: the payment is unknown with no intent id.
    Reconciling finds the intent by the payment id in its metadata, and the buyer's next click
    confirms that same intent; no second one is ever created."""
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="cy@example.com", name="Cy",
        billing_country="GB",
    )  # fmt: skip
    pm = card_payment_method(VISA)
    with answers_lost(settings, localstripe, lose="create"):
        outcome = checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None)
    payment = outcome.payment
    assert outcome.status == Payment.Status.UNKNOWN and not payment.stripe_payment_intent_id
    assert payment.events.filter(cause="timeout_on_create").count() == 1

    refreshed = checkout_refresh(order_id=order.pk)
    payment.refresh_from_db()
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("payment_id") == str(payment.pk)
    ]  # fmt: skip
    assert len(intents) == 1 and payment.stripe_payment_intent_id == intents[0].id
    assert refreshed.status == Payment.Status.REQUIRES_PAYMENT_METHOD

    again = checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None)
    assert again.payment.pk == payment.pk and again.status == Payment.Status.SUCCEEDED
    assert [
        r.id for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ] == [intents[0].id]  # fmt: skip
    order.refresh_from_db()
    assert order.status == "paid"
