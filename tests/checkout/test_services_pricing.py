from datetime import UTC, datetime

import pytest

from checkout.models import Offer
from checkout.services.pricing import (
    PricingError,
    amount_validate,
    next_renewal,
    price_quote,
)
from checkout.templatetags.money import money, percent_bp
from tests.checkout.factories import OfferFactory, TaxRateFactory

pytestmark = pytest.mark.django_db


def test_exclusive_tax_is_added_and_rounded_half_up():
    offer = OfferFactory(price_amount=1_005, tax_mode=Offer.TaxMode.EXCLUSIVE)
    TaxRateFactory(country="DE", rate_bp=1900)
    quote = price_quote(offer=offer, billing_country="de")
    # 1005 * 19% = 190.95 → 191
    assert (quote.subtotal, quote.tax, quote.total, quote.due_now) == (1_005, 191, 1_196, 1_196)


def test_inclusive_tax_is_carved_out_and_total_is_the_price():
    offer = OfferFactory(price_amount=12_000, tax_mode=Offer.TaxMode.INCLUSIVE)
    TaxRateFactory(country="GB", rate_bp=2000)
    quote = price_quote(offer=offer, billing_country="GB")
    assert (quote.subtotal, quote.tax, quote.total) == (10_000, 2_000, 12_000)
    assert quote.tax_inclusive and quote.tax_label == "VAT"


def test_an_offer_rate_wins_over_the_global_rate_and_no_rate_means_no_tax():
    offer = OfferFactory(price_amount=10_000, tax_mode=Offer.TaxMode.EXCLUSIVE)
    TaxRateFactory(country="FR", rate_bp=2000)
    TaxRateFactory(country="FR", rate_bp=550, offer=offer, label="TVA réduite")
    assert price_quote(offer=offer, billing_country="FR").tax == 550
    assert price_quote(offer=OfferFactory(tax_mode="exclusive"), billing_country="FR").tax == 2400
    assert price_quote(offer=offer, billing_country="US").tax == 0


def test_jpy_has_no_decimals_anywhere():
    offer = OfferFactory(price_amount=5_500, currency="JPY", tax_mode=Offer.TaxMode.INCLUSIVE)
    TaxRateFactory(country="JP", rate_bp=1000, label="Consumption tax")
    quote = price_quote(offer=offer, billing_country="JP")
    assert (quote.subtotal, quote.tax, quote.total) == (5_000, 500, 5_500)
    assert money(quote.total, "JPY") == "¥5,500"
    assert money(1_234, "EUR") == "€12.34"
    assert money(1_234, "KWD").endswith("1.234")
    assert percent_bp(550) == "5.5%" and percent_bp(2000) == "20%"


def test_deposit_is_due_now_and_the_balance_later():
    offer = OfferFactory(
        price_amount=50_000,
        billing_type=Offer.BillingType.DEPOSIT,
        deposit_amount=10_000,
        balance_due_days=14,
    )
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    quote = price_quote(offer=offer, billing_country="US", now=now)
    assert (quote.due_now, quote.balance) == (10_000, 40_000)
    assert quote.balance_due_at == datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_a_deposit_as_large_as_the_total_is_refused():
    offer = OfferFactory(billing_type="deposit", deposit_amount=12_000, price_amount=12_000)
    with pytest.raises(PricingError):
        price_quote(offer=offer, billing_country="US")


def test_recurring_quotes_the_next_charge():
    offer = OfferFactory(billing_type="recurring", interval="month", price_amount=2_900)
    now = datetime(2027, 1, 31, 9, tzinfo=UTC)
    quote = price_quote(offer=offer, billing_country="US", now=now)
    assert quote.next_charge_at == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert quote.next_charge_amount == 2_900
    assert next_renewal(start=now, interval="year") == datetime(2028, 1, 31, 9, tzinfo=UTC)
    assert next_renewal(start=datetime(2026, 12, 5, tzinfo=UTC), interval="month").month == 1


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(0, "EUR"), (-1, "EUR"), (100_000_000, "EUR"), (10.5, "EUR"), (True, "EUR"), (500, "XXQ")],
)
def test_bad_amounts_and_currencies_are_refused_with_a_message(amount, currency):
    with pytest.raises(PricingError) as exc:
        amount_validate(amount, currency=currency)
    assert str(exc.value)


def test_an_offer_with_an_unknown_currency_cannot_be_quoted():
    offer = OfferFactory(currency="ABC")
    with pytest.raises(PricingError):
        price_quote(offer=offer, billing_country="GB")


# Stripe's minimum charge: below it Stripe refuses the payment whatever the card, so we refuse
# it before any PaymentIntent exists, with a message a buyer can act on.


@pytest.mark.parametrize(
    ("currency", "below", "minimum"), [("USD", 49, 50), ("GBP", 29, 30), ("JPY", 49, 50)]
)
def test_an_amount_below_stripes_minimum_for_its_currency_is_refused(currency, below, minimum):
    with pytest.raises(PricingError) as exc:
        amount_validate(below, currency=currency)
    assert "cannot be paid by card" in str(exc.value)
    assert amount_validate(minimum, currency=currency) == minimum


@pytest.mark.parametrize(
    ("currency", "below", "minimum"), [("USD", 49, 50), ("GBP", 29, 30), ("JPY", 49, 50)]
)
def test_an_offer_priced_below_the_minimum_cannot_be_quoted(currency, below, minimum):
    offer = OfferFactory(price_amount=below, currency=currency)
    with pytest.raises(PricingError) as exc:
        price_quote(offer=offer, billing_country="US")
    assert "cannot be paid by card" in str(exc.value)
    offer.price_amount = minimum
    assert price_quote(offer=offer, billing_country="US").total == minimum


def test_the_minimum_is_checked_on_the_total_charged_after_tax():
    TaxRateFactory(country="GB", rate_bp=2000)
    short = OfferFactory(price_amount=41, currency="USD", tax_mode=Offer.TaxMode.EXCLUSIVE)
    with pytest.raises(PricingError):
        price_quote(offer=short, billing_country="GB")  # 41 + 8 tax = 49
    enough = OfferFactory(price_amount=42, currency="USD", tax_mode=Offer.TaxMode.EXCLUSIVE)
    assert price_quote(offer=enough, billing_country="GB").total == 50  # 42 + 8 tax


@pytest.mark.parametrize(("deposit", "charged_below"), [(49, "deposit"), (9_951, "balance")])
def test_a_deposit_or_a_balance_below_the_minimum_cannot_be_quoted(deposit, charged_below):
    offer = OfferFactory(
        price_amount=10_000, currency="USD", billing_type="deposit", deposit_amount=deposit
    )
    with pytest.raises(PricingError) as exc:
        price_quote(offer=offer, billing_country="US")
    assert "cannot be paid by card" in str(exc.value)
    offer.deposit_amount = 50 if charged_below == "deposit" else 9_950
    quote = price_quote(offer=offer, billing_country="US")
    assert (quote.due_now, quote.balance) == (offer.deposit_amount, 10_000 - offer.deposit_amount)


def test_the_minimums_come_from_settings_and_an_unlisted_currency_has_no_extra_floor(settings):
    assert amount_validate(1, currency="ISK") == 1  # not in Stripe's table: no floor of ours
    settings.CHECKOUT_MIN_AMOUNTS = {**settings.CHECKOUT_MIN_AMOUNTS, "ISK": 100}
    with pytest.raises(PricingError):
        amount_validate(99, currency="ISK")
    assert amount_validate(100, currency="isk") == 100
