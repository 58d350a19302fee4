import time
import uuid

import pytest

from checkout.models import Order, OrderEvent
from checkout.services.orders import (
    CheckoutTokenError,
    OfferUnavailable,
    checkout_token_issue,
    checkout_token_verify,
    order_create,
    order_transition,
)
from tests.checkout.factories import OfferFactory, TaxRateFactory

pytestmark = pytest.mark.django_db


def _create(offer, token, **kwargs):
    data = {"email": "Ada@Example.com ", "name": " Ada Buyer", "billing_country": "gb"}
    data.update(kwargs)
    return order_create(offer=offer, checkout_token=token, **data)


def test_an_order_snapshots_prices_and_the_buyer():
    offer = OfferFactory(price_amount=12_000, tax_mode="inclusive")
    TaxRateFactory(country="GB", rate_bp=2000)
    order = _create(offer, uuid.uuid4(), marketing_opt_in=True, ip_address="203.0.113.9")

    assert order.status == Order.Status.OPEN
    assert (order.email, order.name, order.billing_country) == (
        "ada@example.com",
        "Ada Buyer",
        "GB",
    )
    assert (order.subtotal, order.tax, order.total, order.amount_due_now) == (
        10_000,
        2_000,
        12_000,
        12_000,
    )
    assert order.currency == "EUR" and order.lines[0]["slug"] == offer.slug
    assert order.marketing_opt_in and order.terms_accepted_at and order.reference.startswith("CO-")
    assert OrderEvent.objects.filter(order=order, cause="checkout_created").count() == 1


def test_the_same_token_twice_makes_one_order_and_takes_corrections():
    offer = OfferFactory(tax_mode="exclusive", price_amount=10_000)
    TaxRateFactory(country="DE", rate_bp=1900)
    token = uuid.uuid4()
    first = _create(offer, token)
    second = _create(offer, str(token), billing_country="DE", name="Ada Lovelace")
    assert first.pk == second.pk and Order.objects.count() == 1
    second.refresh_from_db()
    assert (second.billing_country, second.name, second.tax) == ("DE", "Ada Lovelace", 1_900)


def test_a_token_used_for_another_offer_is_refused():
    token = uuid.uuid4()
    _create(OfferFactory(), token)
    with pytest.raises(CheckoutTokenError) as exc:
        _create(OfferFactory(), token)
    assert exc.value.reason == "foreign"


def test_an_inactive_offer_cannot_be_ordered():
    with pytest.raises(OfferUnavailable):
        _create(OfferFactory(is_active=False), uuid.uuid4())


def test_tokens_are_bound_to_the_session_that_was_issued_them(settings):
    offer, other_offer = OfferFactory(), OfferFactory()
    mine, theirs = {}, {}
    token = checkout_token_issue(session=mine, offer=offer)
    assert checkout_token_verify(session=mine, token=token, offer=offer) == uuid.UUID(token)

    with pytest.raises(CheckoutTokenError) as foreign:
        checkout_token_verify(session=theirs, token=token, offer=offer)
    assert foreign.value.reason == "foreign"
    with pytest.raises(CheckoutTokenError) as other:
        checkout_token_verify(session=mine, token=token, offer=other_offer)
    assert other.value.reason == "foreign"
    with pytest.raises(CheckoutTokenError) as malformed:
        checkout_token_verify(session=mine, token="not-a-uuid", offer=offer)
    assert malformed.value.reason == "malformed"

    mine["checkout_tokens"][token]["issued_at"] = (
        int(time.time()) - settings.CHECKOUT_TOKEN_TTL_SECONDS - 1
    )
    with pytest.raises(CheckoutTokenError) as stale:
        checkout_token_verify(session=mine, token=token, offer=offer)
    assert stale.value.reason == "stale"


def test_order_transitions_follow_the_table_and_leave_history():
    order = _create(OfferFactory(), uuid.uuid4())
    order, outcome = order_transition(order_id=order.pk, to_status="awaiting_payment", cause="t")
    assert outcome == "applied" and order.status == "awaiting_payment"
    order, outcome = order_transition(order_id=order.pk, to_status="refunded", cause="t")
    assert outcome == "refused" and order.status == "awaiting_payment"
    assert list(order.events.values_list("to_status", "outcome")) == [
        ("open", "applied"),
        ("awaiting_payment", "applied"),
        ("refunded", "refused"),
    ]
