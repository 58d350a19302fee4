"""Prices, tax and what is due now, in integer minor units.

The currency decides the decimals (ISO 4217 via Babel: JPY 0, EUR 2, KWD 3); nothing here ever
divides by 100. Tax is computed once, on the whole amount, and rounded half up to the minor unit:

- tax-exclusive: tax = round(price * rate), total = price + tax;
- tax-inclusive: net = round(price / (1 + rate)), tax = price - net, total = price.

So an inclusive price is always exactly what the buyer pays, and subtotal + tax == total.

Every amount a card is charged (the total, a deposit, the balance after it) is at least Stripe's
minimum for the currency (`settings.CHECKOUT_MIN_AMOUNTS`): below it Stripe refuses the payment
whatever the card, so we refuse it first, before any PaymentIntent exists.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.numbers import list_currencies
from django.conf import settings
from django.utils import timezone

from checkout.models import Offer
from checkout.selectors import tax_rate_for
from config.money import money_format


class PricingError(ValueError):
    """An amount or currency we refuse to charge; the message is safe to show."""


BELOW_MINIMUM_MESSAGE = (
    "This offer cannot be paid by card right now: the amount is smaller than the smallest card "
    "payment our card processor accepts. Nothing has been charged. Please write to us and we "
    "will help you pay another way."
)


class ChargeBelowMinimum(PricingError):
    """Stripe refuses a charge this small in this currency, whatever the card."""

    def __init__(self, *, amount: int, currency: str, minimum: int):
        self.amount = amount
        self.currency = currency
        self.minimum = minimum
        super().__init__(BELOW_MINIMUM_MESSAGE)


class OfferAmountsInvalid(PricingError):
    """An offer's price or deposit we could not charge, with a message per field for staff."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


@dataclass(frozen=True)
class Quote:
    currency: str
    subtotal: int
    tax: int
    total: int
    tax_rate_bp: int
    tax_label: str
    tax_inclusive: bool
    due_now: int
    balance: int
    balance_due_at: datetime | None
    # For recurring offers: the amount and date of the next charge.
    next_charge_at: datetime | None
    next_charge_amount: int

    def lines(self, *, offer: Offer) -> list[dict]:
        """The snapshot frozen on the order: what the buyer saw and agreed to."""
        return [
            {
                "kind": "offer",
                "offer_id": offer.pk,
                "slug": offer.slug,
                "name": offer.name,
                "billing_type": offer.billing_type,
                "interval": offer.interval,
                "unit_amount": offer.price_amount,
                "quantity": 1,
                "currency": self.currency,
                "subtotal": self.subtotal,
                "tax": self.tax,
                "total": self.total,
                "tax_rate_bp": self.tax_rate_bp,
                "tax_label": self.tax_label,
                "tax_inclusive": self.tax_inclusive,
            }
        ]


def currency_validate(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or code not in list_currencies():
        raise PricingError(f"“{currency}” is not a currency we know.")
    return code


def charge_minimum(currency: str) -> int:
    """The smallest charge Stripe accepts in this currency, in minor units (USD 50, GBP 30,
    JPY 50); 1 for a currency not in `settings.CHECKOUT_MIN_AMOUNTS` (see the setting)."""
    return max(int(settings.CHECKOUT_MIN_AMOUNTS.get(currency_validate(currency), 1)), 1)


def amount_validate(amount: int, *, currency: str) -> int:
    """Refuse zero, negative, fractional and absurd amounts, and amounts below Stripe's minimum
    charge for the currency (ChargeBelowMinimum): validate here what a card is charged."""
    _amount_bounds_validate(amount, currency=currency)
    code = currency_validate(currency)
    minimum = charge_minimum(code)
    if amount < minimum:
        raise ChargeBelowMinimum(amount=amount, currency=code, minimum=minimum)
    return amount


def _amount_bounds_validate(amount: int, *, currency: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PricingError("The amount must be a whole number of the currency's smallest unit.")
    if amount <= 0:
        raise PricingError("The amount must be more than zero.")
    if amount > settings.CHECKOUT_MAX_AMOUNT:
        raise PricingError("The amount is larger than a card payment can be.")
    currency_validate(currency)
    return amount


def offer_amounts_validate(
    *, price_amount: int | None, currency: str, billing_type: str, deposit_amount: int | None
) -> None:
    """Refuse an offer (before it is saved) that no card could pay, with plain field errors.

    Tax can only add to an exclusive price and a buyer may be billed where there is none, so the
    price itself is the smallest total a buyer can be charged, and price - deposit the smallest
    balance. Each of price, deposit and balance must reach Stripe's minimum for the currency.
    """
    try:
        code = currency_validate(currency)
    except PricingError as exc:
        raise OfferAmountsInvalid({"currency": [str(exc)]}) from None
    if price_amount is None:
        return  # the form's own "required" error says it
    errors: dict[str, list[str]] = {}
    minimum = charge_minimum(code)
    floor = money_format(minimum, code)
    try:
        _amount_bounds_validate(price_amount, currency=code)
    except PricingError as exc:
        errors["price_amount"] = [str(exc)]
    else:
        if price_amount < minimum:
            errors["price_amount"] = [
                f"The price is below {floor}, the smallest card payment Stripe accepts in "
                f"{code}. Raise the price to at least {floor}."
            ]
    if billing_type == Offer.BillingType.DEPOSIT and "price_amount" not in errors:
        deposit = deposit_amount or 0
        if not 0 < deposit < price_amount:
            errors["deposit_amount"] = [
                "A deposit offer needs a deposit of more than zero and less than the price."
            ]
        elif deposit < minimum:
            errors["deposit_amount"] = [
                f"The deposit is below {floor}, the smallest card payment Stripe accepts in "
                f"{code}, so no card could pay it. Make the deposit at least {floor}."
            ]
        elif price_amount - deposit < minimum:
            balance = money_format(price_amount - deposit, code)
            errors["deposit_amount"] = [
                f"The balance after this deposit would be {balance}, below {floor}, the "
                f"smallest card payment Stripe accepts in {code}. Make the deposit smaller, or "
                "make the offer a one-time payment."
            ]
    if errors:
        raise OfferAmountsInvalid(errors)


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def price_quote(*, offer: Offer, billing_country: str, now: datetime | None = None) -> Quote:
    """Subtotal, tax, total and the amount due now for one offer and billing country."""
    currency = currency_validate(offer.currency)
    # The price is not necessarily what is charged (tax may be added): the minimum is checked on
    # the total, the deposit and the balance below.
    price = _amount_bounds_validate(offer.price_amount, currency=currency)
    rate = tax_rate_for(offer=offer, country=billing_country)
    bp = rate.rate_bp if rate else 0
    if offer.tax_mode == Offer.TaxMode.INCLUSIVE:
        net = _round_half_up(price * 10_000, 10_000 + bp)
        subtotal, tax, total = net, price - net, price
    else:
        tax = _round_half_up(price * bp, 10_000)
        subtotal, total = price, price + tax
    amount_validate(total, currency=currency)

    now = now or timezone.now()
    due_now, balance, balance_due_at = total, 0, None
    next_charge_at, next_charge_amount = None, 0
    if offer.billing_type == Offer.BillingType.DEPOSIT:
        # The deposit is a gross amount (tax included) taken from the total; the rest is due later.
        deposit = offer.deposit_amount or 0
        if not 0 < deposit < total:
            raise PricingError(
                "This offer's deposit must be more than zero and less than the total."
            )
        due_now, balance = deposit, total - deposit
        # Both are card charges: the deposit now, the balance later from the portal.
        amount_validate(due_now, currency=currency)
        amount_validate(balance, currency=currency)
        balance_due_at = now + timedelta(days=offer.balance_due_days or 30)
    elif offer.billing_type == Offer.BillingType.RECURRING:
        next_charge_at = next_renewal(start=now, interval=offer.interval)
        next_charge_amount = total
    return Quote(
        currency=currency,
        subtotal=subtotal,
        tax=tax,
        total=total,
        tax_rate_bp=bp,
        tax_label=rate.label if rate else "Tax",
        tax_inclusive=offer.tax_mode == Offer.TaxMode.INCLUSIVE,
        due_now=due_now,
        balance=balance,
        balance_due_at=balance_due_at,
        next_charge_at=next_charge_at,
        next_charge_amount=next_charge_amount,
    )


def next_renewal(*, start: datetime, interval: str) -> datetime:
    """The same day next month or next year, clamped to the month's last day (31 Jan → 28 Feb)."""
    if interval == Offer.Interval.YEAR:
        year, month = start.year + 1, start.month
    else:
        year, month = start.year + (start.month // 12), start.month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
