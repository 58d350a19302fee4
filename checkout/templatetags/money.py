"""Money for people, at the edge: `{{ order.total|money:order.currency }}`."""

from decimal import Decimal

from django import template

from config.money import money_format

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """The one money filter for pages and emails (config.money.money_format)."""
    if amount is None or amount == "":
        return ""
    return money_format(int(amount), currency)


@register.filter
def percent_bp(rate_bp) -> str:
    """2000 → "20%", 550 → "5.5%"."""
    value = Decimal(int(rate_bp or 0)).scaleb(-2).normalize()
    return f"{value:f}%"
