import pytest
from django.contrib.auth import get_user_model

from checkout.models import Offer

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(
        get_user_model().objects.create_superuser("fin", "fin@example.com", "pw-123456789")
    )
    return client


def _offer_form(**overrides) -> dict:
    return {
        "name": "Workshop",
        "slug": "workshop",
        "description": "",
        "is_active": "on",
        "price_amount": "100.00",
        "currency": "USD",
        "tax_mode": Offer.TaxMode.INCLUSIVE,
        "billing_type": Offer.BillingType.DEPOSIT,
        "deposit_amount": "20.00",
        "balance_due_days": "30",
        "interval": "",
        "renewal_terms": "",
        "cancellation_terms": "",
        "accepts_card": "on",
        "access_name": "",
        "access_url": "",
        "access_instructions": "",
        "tax_rates-TOTAL_FORMS": "0",
        "tax_rates-INITIAL_FORMS": "0",
        "tax_rates-MIN_NUM_FORMS": "0",
        "tax_rates-MAX_NUM_FORMS": "1000",
        **overrides,
    }


def _errors(response) -> str:
    return " ".join(str(e) for e in response.context["adminform"].form.errors.values())


def test_a_deposit_below_the_card_minimum_cannot_be_saved(staff_client):
    response = staff_client.post("/admin/checkout/offer/add/", _offer_form(deposit_amount="0.49"))
    assert response.status_code == 200 and not Offer.objects.exists()
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["deposit_amount"]
    message = "The deposit is below $0.50, the smallest card payment Stripe accepts in USD"
    assert message in errors["deposit_amount"][0] and message in response.content.decode()

    saved = staff_client.post("/admin/checkout/offer/add/", _offer_form(deposit_amount="0.50"))
    assert saved.status_code == 302 and Offer.objects.get().deposit_amount == 50


def test_a_balance_after_the_deposit_below_the_card_minimum_cannot_be_saved(staff_client):
    response = staff_client.post("/admin/checkout/offer/add/", _offer_form(deposit_amount="99.51"))
    assert response.status_code == 200 and not Offer.objects.exists()
    assert "The balance after this deposit would be $0.49, below $0.50" in _errors(response)


@pytest.mark.parametrize(
    ("currency", "price", "minimum"),
    [("USD", "0.49", "$0.50"), ("GBP", "0.29", "£0.30"), ("JPY", "49", "¥50")],
)
def test_a_price_below_the_card_minimum_cannot_be_saved(staff_client, currency, price, minimum):
    response = staff_client.post(
        "/admin/checkout/offer/add/",
        _offer_form(
            currency=currency, price_amount=price, billing_type="one_time", deposit_amount=""
        ),
    )
    assert response.status_code == 200 and not Offer.objects.exists()
    assert f"The price is below {minimum}" in _errors(response)


def test_an_existing_offer_cannot_be_edited_below_the_minimum(staff_client):
    staff_client.post("/admin/checkout/offer/add/", _offer_form())
    offer = Offer.objects.get()
    response = staff_client.post(
        f"/admin/checkout/offer/{offer.pk}/change/",
        _offer_form(price_amount="0.49", deposit_amount=""),
    )
    assert response.status_code == 200
    offer.refresh_from_db()
    assert (offer.price_amount, offer.deposit_amount) == (10_000, 2_000)


def test_an_offer_saved_before_the_minimum_can_still_be_renamed_and_retired(staff_client):
    staff_client.post("/admin/checkout/offer/add/", _offer_form())
    offer = Offer.objects.get()
    Offer.objects.filter(pk=offer.pk).update(price_amount=40, deposit_amount=10)  # an old offer
    form = _offer_form(price_amount="0.40", deposit_amount="0.10", name="Old workshop")
    del form["is_active"]  # unticked: retired

    response = staff_client.post(f"/admin/checkout/offer/{offer.pk}/change/", form)

    assert response.status_code == 302, _errors(response)
    offer.refresh_from_db()
    assert (offer.name, offer.is_active, offer.price_amount) == ("Old workshop", False, 40)


def test_prices_are_typed_in_the_currencys_own_units(staff_client):
    refused = staff_client.post(
        "/admin/checkout/offer/add/",
        _offer_form(currency="JPY", price_amount="5000.5", billing_type="one_time",
                    deposit_amount=""),
    )  # fmt: skip
    assert "JPY has no decimals" in _errors(refused) and not Offer.objects.exists()
    assert "EUR has 2 decimals" in _errors(
        staff_client.post("/admin/checkout/offer/add/", _offer_form(currency="EUR",
                                                                    price_amount="100.005"))
    )  # fmt: skip
    saved = staff_client.post(
        "/admin/checkout/offer/add/",
        _offer_form(currency="KWD", price_amount="12.345", billing_type="one_time",
                    deposit_amount=""),
    )  # fmt: skip
    assert saved.status_code == 302, _errors(saved)
    offer = Offer.objects.get()
    assert (offer.price_amount, offer.currency) == (12_345, "KWD")
    page = staff_client.get(f"/admin/checkout/offer/{offer.pk}/change/").content.decode()
    assert 'value="12.345"' in page


def test_an_access_url_typed_without_a_scheme_is_saved_as_https(staff_client):
    response = staff_client.post(
        "/admin/checkout/offer/add/", _offer_form(access_url="learn.example.com/course")
    )
    assert response.status_code == 302, _errors(response)
    assert Offer.objects.get(slug="workshop").access_url == "https://learn.example.com/course"
