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
