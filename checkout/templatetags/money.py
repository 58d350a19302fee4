"""Money for people, at the edge: `{{ order.total|money:order.currency }}`."""

from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

from checkout.services.pricing import currency_exponent

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    exponent = currency_exponent(currency)
    value = Decimal(int(amount)).scaleb(-exponent)
    locale = to_locale(get_language() or "en-gb")
    return format_currency(value, currency.upper(), locale=locale)


@register.filter
def percent_bp(rate_bp) -> str:
    """2000 → "20%", 550 → "5.5%"."""
    value = Decimal(int(rate_bp or 0)).scaleb(-2).normalize()
    return f"{value:f}%"
