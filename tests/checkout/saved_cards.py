"""A card saved the way the Card Element saves it: this order's SetupIntent, confirmed with the
card (`confirmCardSetup`). `checkout_pay` accepts only such a card (D4)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import stripe
from django.conf import settings

from checkout.models import Order
from checkout.services.checkout import PayOutcome, checkout_pay, checkout_setup_start
from tests.checkout.cards import VISA, card_payment_method


@dataclass(frozen=True)
class SavedCard:
    payment_method: str
    setup_intent: str


def setup_intent_confirm(client_secret: str, number: str = VISA) -> SavedCard:
    """What the browser's confirmCardSetup does with a SetupIntent's client secret."""
    setup_intent = client_secret.split("_secret_")[0]
    payment_method = card_payment_method(number)
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    result = client.v1.setup_intents.confirm(
        setup_intent, params={"payment_method": payment_method}
    )
    status = result.status
    if status == "requires_action":
        status = _complete_authentication(setup_intent, client_secret)
    assert status == "succeeded", status
    return SavedCard(payment_method=payment_method, setup_intent=setup_intent)


def _complete_authentication(setup_intent: str, client_secret: str) -> str:
    """The bank's check while saving the card: what the Card Element stand-in posts when the
    buyer clicks "Complete authentication" in its modal (publishable key, JSON body)."""
    body = json.dumps(
        {
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
        }
    ).encode()
    url = f"{settings.STRIPE_API_BASE}/v1/setup_intents/{setup_intent}/confirm"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
        return json.loads(response.read())["status"]


def card_saved(order: Order, number: str = VISA) -> SavedCard:
    return setup_intent_confirm(checkout_setup_start(order=order), number)


def checkout_pay_with(order: Order, card: SavedCard | str = VISA, *, ip=None) -> PayOutcome:
    """Pay `order` with a saved card (or a test card number, saved first for this order)."""
    if isinstance(card, str):
        card = card_saved(order, card)
    return checkout_pay(
        order_id=order.pk,
        payment_method_id=card.payment_method,
        setup_intent_id=card.setup_intent,
        ip=ip,
    )
