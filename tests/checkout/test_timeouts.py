"""A Stripe answer lost on the way back: the payment is `unknown`, then reconciled by retrieving
it, never by creating a second PaymentIntent."""

import uuid

import pytest

from checkout.services.checkout import checkout_refresh
from checkout.services.orders import order_create
from payments import gateway
from payments.models import Payment
from payments.services import payment_transition
from tests.checkout.cards import VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import card_saved, checkout_pay_with
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
    pm = card_saved(order, VISA)

    outcome = checkout_pay_with(order, pm, ip=None)
    assert outcome.status == Payment.Status.UNKNOWN
    # The buyer clicks again: same attempt, same row, no new intent.
    assert checkout_pay_with(order, pm, ip=None).payment.pk == outcome.payment.pk

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
    pm = card_saved(order, VISA)
    with answers_lost(
        settings, localstripe, lose="/confirm", acts=acts, status=status
    ) as stripe_proxy:
        outcome = checkout_pay_with(order, pm, ip=None)
        payment = outcome.payment
        assert outcome.status == Payment.Status.UNKNOWN
        assert payment.events.filter(cause="timeout_on_confirm").count() == 1
        assert not payment.failure_code and not payment.events.filter(to_status="failed").exists()

        # What happened is read back, never charged a second time.
        refreshed = checkout_refresh(order_id=order.pk)
        intents = _intents(order)
        assert len(intents) == 1 and Payment.objects.filter(order=order).count() == 1
        if acts:
            assert refreshed.status == Payment.Status.SUCCEEDED
        else:
            # Stripe never confirmed: the attempt waits for its confirm again, and the buyer's
            # next click (Stripe answering again) confirms the same intent instead of being
            # stuck: under a new key, since Stripe replays the saved 5xx for the old one.
            assert intents[0].status != "succeeded"
            assert refreshed.status == Payment.Status.REQUIRES_PAYMENT_METHOD
            stripe_proxy.stop_losing()
            again = checkout_pay_with(order, pm, ip=None)
            assert again.payment.pk == payment.pk and again.status == Payment.Status.SUCCEEDED
            assert again.payment.stripe_payment_intent_id == intents[0].id
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_paid == order.total
    assert Payment.objects.filter(order=order).count() == 1


def test_another_card_for_an_attempt_stripe_never_confirmed_is_the_card_charged(
    localstripe, settings
):
    """The buyer's first confirm never ran (503); they come back with another card. The waiting
    intent can only take the first card, so it is canceled and a new attempt charges the new
    one: the card the buyer chose is the one charged, once."""
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="kim@example.com", name="Kim",
        billing_country="GB",
    )  # fmt: skip
    first_card = card_saved(order, VISA)
    with answers_lost(settings, localstripe, lose="/confirm", acts=False, status=503):
        first = checkout_pay_with(order, first_card, ip=None).payment
    checkout_refresh(order_id=order.pk)

    second_card = card_saved(order, VISA)
    outcome = checkout_pay_with(order, second_card, ip=None)

    assert outcome.status == Payment.Status.SUCCEEDED and outcome.payment.pk != first.pk
    assert outcome.payment.payment_method_id == second_card.payment_method
    first.refresh_from_db()
    assert first.status == Payment.Status.CANCELED
    assert {i.id: i.status for i in _intents(order)} == {
        first.stripe_payment_intent_id: "canceled",
        outcome.payment.stripe_payment_intent_id: "succeeded",
    }
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_paid == order.total


def _intents(order) -> list:
    return [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip


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
    pm = card_saved(order, VISA)
    with answers_lost(settings, localstripe, lose="create"):
        outcome = checkout_pay_with(order, pm, ip=None)
    payment = outcome.payment
    assert payment.status == Payment.Status.UNKNOWN and not payment.stripe_payment_intent_id
    # An unanswered create cannot have charged (it was not confirmed): the buyer is told so.
    assert outcome.status == "unreachable" and "Nothing was charged" in outcome.message
    assert payment.events.filter(cause="timeout_on_create").count() == 1

    refreshed = checkout_refresh(order_id=order.pk)
    payment.refresh_from_db()
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("payment_id") == str(payment.pk)
    ]  # fmt: skip
    assert len(intents) == 1 and payment.stripe_payment_intent_id == intents[0].id
    assert refreshed.status == Payment.Status.REQUIRES_PAYMENT_METHOD

    again = checkout_pay_with(order, pm, ip=None)
    assert again.payment.pk == payment.pk and again.status == Payment.Status.SUCCEEDED
    assert [
        r.id for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ] == [intents[0].id]  # fmt: skip
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_lost_confirm_that_ran_late_is_not_failed_by_the_next_click(localstripe, settings):
    """The refresh read the intent before the lost confirm finished at Stripe, so the attempt
    looked unconfirmed; the buyer's next confirm is then refused (the intent has succeeded).
    That refusal must not fail the payment (the buyer would pay again): Stripe's record wins."""
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="lu@example.com", name="Lu",
        billing_country="GB",
    )  # fmt: skip
    pm = card_saved(order, VISA)
    with answers_lost(settings, localstripe, lose="/confirm"):
        payment = checkout_pay_with(order, pm, ip=None).payment
    assert payment.status == Payment.Status.UNKNOWN
    # What a refresh that came too early would have recorded.
    payment_transition(
        payment_id=payment.pk,
        to_status=Payment.Status.REQUIRES_PAYMENT_METHOD,
        cause="checkout_refresh",
    )

    again = checkout_pay_with(order, pm, ip=None)

    assert again.payment.pk == payment.pk and again.status == Payment.Status.SUCCEEDED
    assert not again.payment.events.filter(to_status="failed").exists()
    assert len(_intents(order)) == 1
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_paid == order.total
