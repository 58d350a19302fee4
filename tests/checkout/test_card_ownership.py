"""Cards belong to the buyer who proved them (D1, D4).

D1: anyone who knows a buyer's email could replace that buyer's saved card with an anonymous
checkout, and the victim's renewal was charged to the attacker's card. D4: `pay/` and the
portal's card update took any `pm_…` id, so buyer A's card paid buyer B's order and was moved to
B's customer."""

import uuid
from datetime import timedelta

import pytest
import stripe
from django.conf import settings

from checkout.models import Order, Subscription
from checkout.portal.links import portal_token_make
from checkout.services.checkout import checkout_pay
from checkout.services.orders import order_create
from checkout.services.subscriptions import subscription_renew
from payments import gateway
from payments.models import Customer, Payment
from payments.services import CardNotProven
from tests.checkout.cards import DECLINED, VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import card_saved, checkout_pay_with, setup_intent_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def _order(email: str, offer=None) -> Order:
    return order_create(
        offer=offer or OfferFactory(),
        checkout_token=uuid.uuid4(),
        email=email,
        name="Buyer",
        billing_country="GB",
    )


def _attached_to(payment_method: str) -> str:
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )
    return client.v1.payment_methods.retrieve(payment_method).customer or ""


def test_an_anonymous_checkout_with_a_victims_email_never_changes_what_the_victim_is_charged(
    localstripe,
):
    club = OfferFactory(billing_type="recurring", interval="month", price_amount=2_900)
    victim_order = _order("victim@example.com", club)
    victim_card = card_saved(victim_order, VISA)
    assert checkout_pay_with(victim_order, victim_card).status == Payment.Status.SUCCEEDED
    subscription = Subscription.objects.get(order=victim_order)

    # The attacker knows the email and checks out with a card that declines.
    attacker_order = _order("victim@example.com", club)
    attacker_card = card_saved(attacker_order, DECLINED)
    checkout_pay_with(attacker_order, attacker_card)

    assert attacker_order.customer != victim_order.customer
    assert not Customer.objects.filter(email="victim@example.com", email_verified=True).exists()
    subscription.refresh_from_db()
    assert subscription.payment_method_id == victim_card.payment_method
    assert subscription.customer == victim_order.customer
    assert _attached_to(attacker_card.payment_method) != victim_order.customer.stripe_customer_id

    renewal = subscription_renew(
        subscription_id=subscription.pk, now=subscription.next_charge_at + timedelta(minutes=1)
    )
    assert renewal.status == Payment.Status.SUCCEEDED
    assert renewal.payment_method_id == victim_card.payment_method
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


def test_an_anonymous_checkout_never_replaces_a_verified_buyers_card_on_file(localstripe, client):
    from payments.services import customer_card_save, customer_ensure

    verified = customer_ensure(email="kept@example.com", name="Kept")
    verified = customer_card_save(customer=verified, payment_method_id=card_payment_method(VISA))
    on_file = verified.payment_method_id

    stranger = _order("kept@example.com")
    checkout_pay_with(stranger, DECLINED)

    verified.refresh_from_db()
    assert verified.payment_method_id == on_file
    assert stranger.customer != verified


def _checkout_in(client, offer, email: str) -> str:
    import re

    page = client.get(f"/checkout/{offer.slug}/")
    token = re.search(rb'name="token" value="([0-9a-f-]+)"', page.content).group(1).decode()
    started = client.post(
        f"/checkout/{offer.slug}/",
        {"token": token, "email": email, "name": "B", "billing_country": "GB", "terms": "on"},
    )
    return started["Location"]


def _pay_in(client, url, number=VISA):
    setup = client.post(url + "setup/", content_type="application/json").json()
    card = setup_intent_confirm(setup["client_secret"], number)
    response = client.post(
        url + "pay/",
        {"payment_method": card.payment_method, "setup_intent": card.setup_intent},
        content_type="application/json",
    )
    return card, response


def test_a_buyer_who_proved_the_email_in_the_portal_checks_out_as_themselves(localstripe, client):
    _order("me@example.com")  # an earlier order: the portal link works for this email
    assert client.get(f"/account/{portal_token_make(email='me@example.com')}/").status_code == 200

    url = _checkout_in(client, OfferFactory(slug="proven", price_amount=5_000), "me@example.com")
    card, response = _pay_in(client, url)

    assert response.json()["status"] == "succeeded"
    order = Order.objects.get(offer__slug="proven")
    assert order.customer.email_verified
    assert order.customer.payment_method_id == card.payment_method  # now their card on file

    # Proving one email proves nothing about another typed into the same browser.
    other = _checkout_in(client, OfferFactory(slug="other", price_amount=5_000), "you@example.com")
    _pay_in(client, other)
    assert not Order.objects.get(offer__slug="other").customer.email_verified


def test_another_buyers_card_cannot_pay_an_order_and_is_never_attached(localstripe):
    order_a = _order("a@example.com")
    order_b = _order("b@example.com")
    card_a = card_saved(order_a, VISA)
    card_b = card_saved(order_b, VISA)
    assert order_a.customer != order_b.customer

    attempts = [
        (card_a.payment_method, card_a.setup_intent),  # A's card with A's SetupIntent
        (card_a.payment_method, card_b.setup_intent),  # A's card with B's own SetupIntent
        ("pm_card_visa", ""),  # a card no SetupIntent of B's saved
        (card_payment_method(VISA), card_b.setup_intent),
    ]
    for payment_method, setup_intent in attempts:
        with pytest.raises(CardNotProven):
            checkout_pay(
                order_id=order_b.pk,
                payment_method_id=payment_method,
                setup_intent_id=setup_intent,
                ip=None,
            )

    assert not Payment.objects.filter(order=order_b).exists()
    assert [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order_b.pk)
    ] == []  # fmt: skip
    assert _attached_to(card_a.payment_method) != order_b.customer.stripe_customer_id
    order_b.refresh_from_db()
    assert order_b.status == Order.Status.OPEN and order_b.checkout_attempt == 0

    # B's own card still pays.
    assert checkout_pay_with(order_b, card_b).status == Payment.Status.SUCCEEDED


def test_the_pay_endpoint_refuses_a_foreign_card_with_a_clear_message(client, localstripe):
    offer = OfferFactory(slug="idor", price_amount=5_000)
    victim = _order("victim@example.com", offer)
    victim_card = card_saved(victim, VISA)
    url = _checkout_in(client, offer, "mallory@example.com")
    client.post(url + "setup/", content_type="application/json")

    response = client.post(
        url + "pay/",
        {"payment_method": victim_card.payment_method, "setup_intent": victim_card.setup_intent},
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["message"].startswith("We could not confirm this card")
    assert "Nothing was charged" in response.json()["message"]
    mallory = Order.objects.get(email="mallory@example.com")
    assert not Payment.objects.filter(order=mallory).exists()


def test_the_portal_card_update_accepts_only_the_card_its_own_setup_saved(client, localstripe):
    from payments.services import customer_ensure

    club = OfferFactory(billing_type="recurring", interval="month", price_amount=2_900)
    owner = _order("owner@example.com", club)
    checkout_pay_with(owner, VISA)
    subscription = Subscription.objects.get(order=owner)
    renewing_with = subscription.payment_method_id
    stranger_card = card_saved(_order("stranger@example.com"), VISA)
    token = portal_token_make(email="owner@example.com")

    foreign = client.post(
        f"/account/{token}/card/",
        {"payment_method": stranger_card.payment_method,
         "setup_intent": stranger_card.setup_intent},
        content_type="application/json",
    )  # fmt: skip
    assert foreign.status_code == 409
    subscription.refresh_from_db()
    assert subscription.payment_method_id == renewing_with
    assert (
        _attached_to(stranger_card.payment_method)
        != customer_ensure(email="owner@example.com", name="").stripe_customer_id
    )

    setup = client.post(f"/account/{token}/card/setup/", content_type="application/json")
    own = setup_intent_confirm(setup.json()["client_secret"], VISA)
    saved = client.post(
        f"/account/{token}/card/",
        {"payment_method": own.payment_method, "setup_intent": own.setup_intent},
        content_type="application/json",
    )
    assert saved.status_code == 200 and saved.json()["status"] == "saved"
    subscription.refresh_from_db()
    assert subscription.payment_method_id == own.payment_method  # renewals use the new card
    assert subscription.customer.email_verified


def test_a_card_attached_to_another_customer_is_never_taken_over(localstripe):
    order_a = _order("a@example.com")
    order_b = _order("b@example.com")
    card_a = card_saved(order_a, VISA)  # its SetupIntent attached it to A's customer
    card_saved(order_b, VISA)

    with pytest.raises(gateway.GatewayError):
        gateway.payment_method_attach(
            card_a.payment_method,
            customer=order_b.customer.stripe_customer_id,
            idempotency_key="takeover",
        )
    assert _attached_to(card_a.payment_method) == order_a.customer.stripe_customer_id
    # Attaching it again to its own customer is fine (Stripe's SetupIntent already did).
    gateway.payment_method_attach(
        card_a.payment_method, customer=order_a.customer.stripe_customer_id, idempotency_key="own"
    )
