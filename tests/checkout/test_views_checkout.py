import re
import uuid

import pytest
from django.test import Client

from checkout.models import Offer, Order
from leads.models import ConsentRecord, Lead
from payments import gateway
from payments.models import Payment
from tests.checkout.cards import DECLINED, VISA, card_payment_method
from tests.checkout.factories import OfferFactory, TaxRateFactory
from tests.checkout.saved_cards import setup_intent_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def _token(response) -> str:
    return re.search(rb'name="token" value="([0-9a-f-]+)"', response.content).group(1).decode()


def _start(client, offer, **overrides):
    page = client.get(f"/checkout/{offer.slug}/")
    data = {
        "token": _token(page),
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "billing_country": "GB",
        "terms": "on",
        **overrides,
    }
    return client.post(f"/checkout/{offer.slug}/", data), data


def _pay(client, url, number=VISA):
    """Save a card through the page's own SetupIntent (as the Card Element does), then pay."""
    setup = client.post(url + "setup/", content_type="application/json").json()
    card = setup_intent_confirm(setup["client_secret"], number)
    return client.post(
        url + "pay/",
        {"payment_method": card.payment_method, "setup_intent": card.setup_intent},
        content_type="application/json",
    )


@pytest.fixture
def offer():
    offer = OfferFactory(slug="course", price_amount=12_000, currency="EUR")
    TaxRateFactory(country="GB", rate_bp=2000)
    return offer


def test_the_form_asks_only_what_is_needed_and_marketing_is_unticked(client, offer):
    page = client.get("/checkout/course/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "€120.00" in html and "tax included" in html
    assert 'name="marketing_email"' in html and 'name="marketing_email" checked' not in html
    for field in ("email", "name", "billing_country", "terms"):
        assert f'name="{field}"' in html
    assert "data-card-element" not in html


def test_submitting_creates_a_lead_consents_and_one_order_then_shows_the_summary(client, offer):
    response, data = _start(client, offer, marketing_email="on")
    order = Order.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/checkout/course/{order.checkout_token}/"
    )
    # A double submit or reload of the same form makes no second order.
    again = client.post("/checkout/course/", data)
    assert again.status_code == 302 and Order.objects.count() == 1

    lead = Lead.objects.get(email="ada@example.com")
    assert order.lead == lead
    purposes = set(ConsentRecord.objects.filter(lead=lead).values_list("purpose", flat=True))
    assert {"terms", "marketing_email"} <= purposes

    html = client.get(response["Location"]).content.decode()
    assert "€100.00" in html and "€20.00" in html and "€120.00" in html  # subtotal, tax, total
    assert html.index("Total") < html.index("data-card-element")
    assert "What happens next" in html and "confirm it" in html


def test_a_recurring_offer_shows_cadence_next_charge_and_how_to_cancel(client):
    OfferFactory(slug="club", billing_type="recurring", interval="month", price_amount=2_900)
    response, _ = _start(client, OfferFactory(slug="club"), billing_country="US")
    html = client.get(response["Location"]).content.decode()
    assert "Renews every month" in html and "Next charge" in html and "How to cancel" in html


def test_missing_terms_and_a_bad_email_are_explained(client, offer):
    response, _ = _start(client, offer, terms="", email="not-an-email")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please accept the terms to continue." in html and "valid email" in html
    assert Order.objects.count() == 0


def test_an_unknown_offer_is_a_plain_404(client):
    response = client.get("/checkout/nope/")
    assert response.status_code == 404 and "not available" in response.content.decode()


def test_a_token_from_another_session_is_refused(client, offer):
    response, data = _start(client, offer)
    stranger = Client()
    pay_page = stranger.get(response["Location"])
    assert pay_page.status_code == 403 and "another browser" in pay_page.content.decode()
    stolen = stranger.post("/checkout/course/", data)
    assert stolen.status_code == 403 and Order.objects.count() == 1
    api = stranger.post(response["Location"] + "pay/", {}, content_type="application/json")
    assert api.status_code == 403


def test_a_stale_token_is_refused(client, offer, settings):
    settings.CHECKOUT_TOKEN_TTL_SECONDS = -1
    response, _ = _start(client, offer)
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert Order.objects.count() == 0


def test_the_pay_endpoint_ignores_any_amount_or_currency_from_the_client(
    client, offer, localstripe
):
    response, _ = _start(client, offer)
    url = response["Location"]
    setup = client.post(url + "setup/", content_type="application/json").json()
    assert setup["client_secret"].startswith("seti_")
    card = setup_intent_confirm(setup["client_secret"], VISA)
    outcome = client.post(
        url + "pay/",
        {
            "payment_method": card.payment_method,
            "setup_intent": card.setup_intent,
            "amount": 1,
            "currency": "jpy",
        },
        content_type="application/json",
    ).json()
    assert outcome["status"] == "succeeded" and outcome["next_url"].endswith("/done/")
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency) == (12_000, "eur")
    done = client.get(outcome["next_url"]).content.decode()
    assert "payment received" in done and 'data-status="succeeded"' in done


def test_a_decline_says_what_happened_and_what_to_do(client, offer, localstripe):
    response, _ = _start(client, offer)
    outcome = _pay(client, response["Location"], DECLINED).json()
    assert outcome["status"] == "failed"
    assert outcome["message"].startswith("Your bank declined this card. Nothing was charged.")


def test_garbage_bodies_are_refused_plainly(client, offer, localstripe):
    response, _ = _start(client, offer)
    bad = client.post(response["Location"] + "pay/", b"{not json", content_type="application/json")
    assert bad.status_code == 409 and "card details" in bad.json()["message"]


def test_a_risky_lead_gets_a_manual_review_path_not_a_dead_end(client, offer):
    from leads.services import readiness_policy_active

    policy = readiness_policy_active()
    policy.max_risk_score = 0
    policy.save()
    response, _ = _start(client, offer, website="http://spam.example")  # the honeypot
    order = Order.objects.get()
    assert order.needs_review
    assert "risk" in order.review_reason.lower() or "spam" in order.review_reason.lower()
    html = client.get(response["Location"]).content.decode()
    assert 'data-testid="manual-review"' in html and "data-card-element" not in html
    assert order.reference in html


def test_foreign_token_format_is_a_404(client, offer):
    assert client.get(f"/checkout/course/{uuid.uuid4()}/").status_code == 403
    assert client.get("/checkout/course/not-a-token/").status_code == 404


# Offers saved before Stripe's minimum charge was checked (the admin now refuses them).


def test_an_offer_below_the_card_minimum_says_so_plainly(client, offer):
    Offer.objects.filter(pk=offer.pk).update(price_amount=49)
    page = client.get("/checkout/course/")
    html = page.content.decode()
    assert page.status_code == 409
    assert "cannot be paid by card right now" in html and "Nothing has been charged" in html
    assert "data-card-element" not in html and Order.objects.count() == 0


def test_paying_below_the_card_minimum_makes_no_intent_and_no_failed_payment(
    client, offer, localstripe, settings
):
    Offer.objects.filter(pk=offer.pk).update(price_amount=49)
    minimums = settings.CHECKOUT_MIN_AMOUNTS
    settings.CHECKOUT_MIN_AMOUNTS = {}  # the order was started before the rule
    response, _ = _start(client, offer, billing_country="US")
    settings.CHECKOUT_MIN_AMOUNTS = minimums
    url = response["Location"]
    assert Order.objects.get().amount_due_now == 49

    setup = client.post(url + "setup/", content_type="application/json")
    assert setup.status_code == 409 and "cannot be paid by card" in setup.json()["message"]
    pay = client.post(
        url + "pay/",
        {"payment_method": card_payment_method(VISA), "setup_intent": "seti_none"},
        content_type="application/json",
    )
    assert pay.status_code == 409
    assert pay.json()["message"].startswith("This offer cannot be paid by card right now")
    assert "another card" not in pay.json()["message"]
    assert gateway.payment_intents_recent(created_gte=0) == []
    assert not Payment.objects.exists()
    assert Order.objects.get().status == Order.Status.OPEN
