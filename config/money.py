"""Amounts for people. Integer minor units in, Babel-formatted text out, only at the edge."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision
from django.conf import settings


def money_format(amount: int | None, currency: str, *, locale: str | None = None) -> str:
    """12345, "eur" -> "€123.45"; 500, "jpy" -> "¥500" (en): the currency sets decimals."""
    code = (currency or "").upper()
    value = Decimal(int(amount or 0)).scaleb(-get_currency_precision(code))
    return format_currency(value, code, locale=locale or settings.PORTAL_MONEY_LOCALE)


class MoneyInputError(ValueError):
    """A typed amount that is not a valid amount in its currency; the message says why."""


def money_decimals(currency: str) -> int:
    """The currency's own decimals (ISO 4217 as Babel knows it): EUR 2, JPY 0, KWD 3."""
    return get_currency_precision((currency or "").upper())


def money_minor_from_major(amount: Decimal, currency: str) -> int:
    """Decimal("249.00"), "eur" -> 24900; Decimal("5000"), "jpy" -> 5000. Exact: no floats, and
    more decimals than the currency has (1.234 EUR, 1.5 JPY) is refused, never rounded."""
    decimals = money_decimals(currency)
    if not amount.is_finite():
        raise MoneyInputError("Type an amount, for example 12.50.")
    if amount.as_tuple().exponent < -decimals and amount != amount.quantize(
        Decimal(1).scaleb(-decimals)
    ):
        code = currency.upper()
        if decimals == 0:
            raise MoneyInputError(f"{code} has no decimals: type a whole amount.")
        raise MoneyInputError(f"{code} has {decimals} decimals: type at most {decimals}.")
    return int(amount.scaleb(decimals))


def money_major_from_minor(amount: int, currency: str) -> Decimal:
    """24900, "eur" -> Decimal("249.00"): what a staff form shows as its initial value."""
    decimals = money_decimals(currency)
    return Decimal(int(amount)).scaleb(-decimals).quantize(Decimal(1).scaleb(-decimals))
