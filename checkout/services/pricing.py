"""Prices, tax and what is due now, in integer minor units.

The currency decides the decimals (ISO 4217 via Babel: JPY 0, EUR 2, KWD 3); nothing here ever
divides by 100. Tax is computed once, on the whole amount, and rounded half up to the minor unit:

- tax-exclusive: tax = round(price * rate), total = price + tax;
- tax-inclusive: net = round(price / (1 + rate)), tax = price - net, total = price.

So an inclusive price is always exactly what the buyer pays, and subtotal + tax == total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.numbers import get_currency_precision, list_currencies
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from checkout.models import Offer, TaxRate


class PricingError(ValueError):
    """An amount or currency we refuse to charge; the message is safe to show."""


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


def currency_exponent(currency: str) -> int:
    """Decimals of an ISO 4217 currency (JPY 0, USD 2, KWD 3)."""
    return get_currency_precision(currency_validate(currency))


def currency_validate(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or code not in list_currencies():
        raise PricingError(f"“{currency}” is not a currency we know.")
    return code


def amount_validate(amount: int, *, currency: str) -> int:
    """Refuse zero, negative, fractional and absurd amounts."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PricingError("The amount must be a whole number of the currency's smallest unit.")
    if amount <= 0:
        raise PricingError("The amount must be more than zero.")
    if amount > settings.CHECKOUT_MAX_AMOUNT:
        raise PricingError("The amount is larger than a card payment can be.")
    currency_validate(currency)
    return amount


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def tax_rate_for(*, offer: Offer, country: str) -> TaxRate | None:
    """The offer's own rate for the country, else the global one, else none."""
    country = (country or "").upper()
    rates = TaxRate.objects.filter(Q(offer=offer) | Q(offer__isnull=True), country=country)
    return rates.order_by(F("offer").asc(nulls_last=True)).first()


def price_quote(*, offer: Offer, billing_country: str, now: datetime | None = None) -> Quote:
    """Subtotal, tax, total and the amount due now for one offer and billing country."""
    currency = currency_validate(offer.currency)
    price = amount_validate(offer.price_amount, currency=currency)
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
    import calendar

    if interval == Offer.Interval.YEAR:
        year, month = start.year + 1, start.month
    else:
        year, month = start.year + (start.month // 12), start.month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
