"""Rows and journeys for the dunning tests: checkouts declined for real at localstripe, and
cases opened through the real services (never by writing a status)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

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

# The Stripe peer's 3DS card: confirmations need the buyer; off-session it is declined with
# authentication_required, as at Stripe.
THREE_DS = "pm_card_authenticationRequired"


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


def checkout_declined_by_webhook(
    client,
    *,
    decline_code: str,
    failure_code: str = "card_declined",
    offer=None,
    country: str = "GB",
    phone: str = "",
    sms: bool = False,
) -> tuple[Order, Payment]:
    """A checkout payment that Stripe declined with `decline_code`, told by a signed
    `payment_intent.payment_failed` webhook shaped as Stripe sends it (localstripe has no
    decline codes: see the report on the strict peer)."""
    from tests.payments.factories import customer_create, intent_event, payment_create
    from tests.stripe_helpers import deliver_event

    offer = offer or OfferFactory()
    lead = buyer(country=country, phone=phone, sms=sms)
    order = order_create(
        offer=offer,
        checkout_token=uuid.uuid4(),
        email=lead.email,
        name=lead.name,
        billing_country=country,
        lead=lead,
    )
    card = f"pm_test{uuid.uuid4().hex[:16]}"
    customer = customer_create(email=lead.email, payment_method_id=card)
    Order.objects.filter(pk=order.pk).update(customer=customer, checkout_attempt=1)
    payment = payment_create(
        order=order,
        customer=customer,
        amount=order.amount_due_now,
        currency=order.currency.lower(),
        attempt_kind=Payment.AttemptKind.CHECKOUT,
        payment_method_id=card,
        idempotency_key=f"order:{order.pk}:checkout:1",
    )
    event = intent_event(
        payment,
        "payment_intent.payment_failed",
        payment_method=card,
        last_payment_error={
            "code": failure_code,
            "decline_code": decline_code,
            "message": "Your card was declined.",
            "type": "card_error",
        },
    )
    response = deliver_event(client, event, settings.STRIPE_WEBHOOK_SECRET)
    assert response.status_code == 200
    return Order.objects.get(pk=order.pk), Payment.objects.get(pk=payment.pk)


def run_until_settled(case: DunningCase, *, start: datetime, limit: int = 80) -> list[datetime]:
    """Time travel: run the scheduler at each moment the case is next due, until it has nothing
    left to do. Returns the moments it ran."""
    moments, now = [], start
    for _ in range(limit):
        case.refresh_from_db()
        if case.next_action_at is None:
            return moments
        now = max(now, case.next_action_at)
        moments.append(now)
        dunning_tick(now=now, discover=False)
    raise AssertionError(f"case {case.pk} still due after {limit} runs: {case.next_action_at}")


def next_weekday_at(weekday: int, hour: int, minute: int, tz_name: str) -> datetime:
    """The next such local time, at least two days from now (so it is in the future)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    day = (timezone.now() + timedelta(days=2)).astimezone(tz).date()
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)
