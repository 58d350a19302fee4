from django import template

from checkout.money import money_format

register = template.Library()


@register.filter(name="money")
def money(amount, currency: str) -> str:
    """{{ order.balance|money:order.currency }}"""
    return money_format(amount, currency)
