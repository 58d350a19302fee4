"""D5: Stripe hangs while the buyer pays. The buyer gets a calm answer within the web request's
Stripe budget (below gunicorn's timeout), and a later click charges exactly once."""

import re
import time

import pytest

from checkout.models import Order
from checkout.services.checkout import UNREACHABLE_MESSAGE
from payments import gateway
from payments.models import Payment
from tests.checkout.cards import VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import SavedCard, setup_intent_confirm
from tests.lossy_stripe import answers_lost

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = 4


@pytest.fixture
def pay_url(client, localstripe, settings):
    """An order at its pay step."""
    settings.STRIPE_WEB_BUDGET_SECONDS = BUDGET
    offer = OfferFactory(slug="course", price_amount=12_000, currency="EUR")
    page = client.get(f"/checkout/{offer.slug}/")
    token = re.search(rb'name="token" value="([0-9a-f-]+)"', page.content).group(1).decode()
    started = client.post(
        f"/checkout/{offer.slug}/",
        {
            "token": token,
            "email": "hung@example.com",
            "name": "Hana",
            "billing_country": "GB",
            "terms": "on",
        },
    )
    return started["Location"]


def _saved_card(client, url) -> SavedCard:
    setup = client.post(url + "setup/", content_type="application/json")
    assert setup.status_code == 200
    return setup_intent_confirm(setup.json()["client_secret"], VISA)


def _pay(client, url, card: SavedCard):
    began = time.monotonic()
    response = client.post(
        url + "pay/",
        {"payment_method": card.payment_method, "setup_intent": card.setup_intent},
        content_type="application/json",
    )
    return response, time.monotonic() - began


def _intents(order) -> list:
    return [
        r
        for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]


def test_a_hung_stripe_is_a_calm_answer_in_time_and_the_next_click_charges_once(
    client, pay_url, localstripe, settings
):
    card = _saved_card(client, pay_url)
    with answers_lost(settings, localstripe, lose="*", acts=False, hang=True):
        response, took = _pay(client, pay_url, card)

    assert took < BUDGET + 0.5, took
    assert response.status_code == 503
    assert response.json() == {"status": "error", "message": UNREACHABLE_MESSAGE}
    assert "Nothing was charged" in UNREACHABLE_MESSAGE
    order = Order.objects.get()
    assert _intents(order) == []

    again, _ = _pay(client, pay_url, card)  # Stripe answers again

    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert [i.status for i in _intents(order)] == ["succeeded"]
    assert Payment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.amount_paid == order.total


def test_a_create_whose_answer_never_comes_is_sent_again_under_its_key_on_the_next_click(
    client, pay_url, localstripe, settings
):
    card = _saved_card(client, pay_url)
    with answers_lost(settings, localstripe, lose="create", hang=True) as stripe_proxy:
        response, took = _pay(client, pay_url, card)

        assert took < BUDGET + 0.5, took
        assert response.status_code == 503
        assert response.json()["message"] == UNREACHABLE_MESSAGE
        payment = Payment.objects.get()
        assert payment.status == Payment.Status.UNKNOWN and not payment.stripe_payment_intent_id

        stripe_proxy.stop_losing()  # Stripe answers again, and replays what it saved per key
        again, _ = _pay(client, pay_url, card)

    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    order = Order.objects.get()
    intents = _intents(order)
    assert [i.status for i in intents] == ["succeeded"]  # the create Stripe ran, confirmed once
    payment.refresh_from_db()
    assert payment.stripe_payment_intent_id == intents[0].id
    assert Payment.objects.filter(order=order).count() == 1
    assert list(payment.events.values_list("cause", flat=True))[:2] == [
        "timeout_on_create",
        "create_resent",
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
