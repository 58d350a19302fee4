"""Rows and journeys for the dunning tests: checkouts declined for real at localstripe, and
cases opened through the real services (never by writing a status)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from checkout.models import Order, Subscription
from checkout.services.orders import order_create
from dunning.models import DunningCase
from dunning.services import dunning_tick
from payments.models import Payment
from tests.checkout.cards import DECLINED, VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.leads.factories import capture_lead

# localstripe's 3DS card: confirmations need the buyer, off-session ones too.
THREE_DS = "4000002760003184"


def buyer(*, country: str = "GB", phone: str = "", sms: bool = False, email: str = ""):
    consents = {"terms": True}
    if phone:
        consents["sms"] = sms
    return capture_lead(
        country=country, phone=phone, consents=consents, **({"email": email} if email else {})
    )


def checkout_declined(
    *,
    number: str = DECLINED,
    offer=None,
    country: str = "GB",
    phone: str = "",
    sms: bool = False,
    price: int = 12_000,
) -> tuple[Order, Payment]:
    """A buyer who reached the card step and whose card was declined (real localstripe)."""
    offer = offer or OfferFactory(price_amount=price)
    lead = buyer(country=country, phone=phone, sms=sms)
    order = order_create(
        offer=offer,
        checkout_token=uuid.uuid4(),
        email=lead.email,
        name=lead.name,
        billing_country=country,
        lead=lead,
    )
    outcome = checkout_pay_with(order, number)
    return Order.objects.get(pk=order.pk), Payment.objects.get(pk=outcome.payment.pk)


def subscribed(*, number: str = VISA, price: int = 4_900, country: str = "GB") -> Subscription:
    offer = OfferFactory(billing_type="recurring", interval="month", price_amount=price)
    lead = buyer(country=country)
    order = order_create(
        offer=offer,
        checkout_token=uuid.uuid4(),
        email=lead.email,
        name=lead.name,
        billing_country=country,
        lead=lead,
    )
    checkout_pay_with(order, number)
    return Subscription.objects.get(order=order)


def after_grace(moment: datetime | None = None) -> datetime:
    return (moment or timezone.now()) + timedelta(
        minutes=settings.DUNNING_CHECKOUT_GRACE_MINUTES, seconds=5
    )


def case_opened(order: Order, *, now: datetime | None = None) -> DunningCase:
    """Let the grace period pass and run the scheduler once (tasks run eagerly)."""
    dunning_tick(now=after_grace(now), discover=False)
    return DunningCase.objects.get(order=order)
