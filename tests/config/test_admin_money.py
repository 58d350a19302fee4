"""Amounts read as money in the admin: Babel-formatted in their own currency, on change lists,
detail pages and inlines (config.admin.MoneyAdminMixin)."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from config.admin import MoneyAmountField
from config.money import MoneyInputError, money_minor_from_major
from payments.models import Payment, Refund
from tests.payments.factories import payment_create
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client():
    client = Client()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1234567")
    staff_sign_in(client, root)
    return client


def test_payments_list_and_page_show_money_in_each_currency(root_client):
    euros = payment_create(amount=24_900, currency="eur", status=Payment.Status.SUCCEEDED,
                           amount_received=24_900, amount_refunded=4_900)  # fmt: skip
    payment_create(amount=5_000, currency="jpy")
    payment_create(amount=1_250, currency="kwd")
    Refund.objects.create(payment=euros, amount=4_900, currency="eur", status="succeeded")

    page = root_client.get("/admin/payments/payment/").content.decode()
    listing = page.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    for shown in ("€249.00", "¥5,000", "KWD", "1.250", "€49.00"):
        assert shown in listing, shown
    assert ">24900<" not in listing and ">eur<" not in listing
    assert 'class="column-currency' not in listing  # the amount says its currency

    page = root_client.get(f"/admin/payments/payment/{euros.pk}/change/").content.decode()
    assert "€249.00" in page and "€49.00" in page  # the field, and the refund inline
    assert 'class="readonly">24900<' not in page and "<td>4900</td>" not in page
    assert 'class="readonly">€249.00<' in page

    refunds = root_client.get("/admin/payments/refund/").content.decode()
    refunds = refunds.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert "€49.00" in refunds


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [("249.00", "eur", 24_900), ("249", "EUR", 24_900), ("0.01", "eur", 1),
     ("5000", "jpy", 5_000), ("1.250", "kwd", 1_250), ("0.001", "bhd", 1),
     ("19.99", "usd", 1_999), ("1.10", "eur", 110)],
)  # fmt: skip
def test_typed_amounts_convert_exactly_to_minor_units(typed, currency, minor):
    assert money_minor_from_major(Decimal(typed), currency) == minor
    assert MoneyAmountField(currency=currency).clean(typed) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [("1.234", "eur", "EUR has 2 decimals"), ("1.5", "jpy", "JPY has no decimals"),
     ("1.2345", "kwd", "KWD has 3 decimals"), ("0.001", "eur", "EUR has 2 decimals")],
)  # fmt: skip
def test_more_decimals_than_the_currency_has_is_an_error(typed, currency, message):
    with pytest.raises(MoneyInputError, match=message):
        money_minor_from_major(Decimal(typed), currency)
    from django import forms

    with pytest.raises(forms.ValidationError):
        MoneyAmountField(currency=currency).clean(typed)


def test_a_typed_amount_shows_back_in_major_units():
    assert MoneyAmountField(currency="eur").prepare_value(24_900) == Decimal("249.00")
    assert MoneyAmountField(currency="jpy").prepare_value(5_000) == Decimal("5000")
