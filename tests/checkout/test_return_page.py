"""The pages the bank sends the buyer back to after an authentication that left the page (the
`return_url` of on-session confirms): they ask Stripe, never charge, and land on the order."""

import re
from urllib.parse import parse_qs

import pytest
from django.test import Client

from checkout.portal.links import portal_token_make
from payments.models import Payment
from payments.services import customer_card_save, customer_ensure
from tests.checkout.cards import THREE_DS, VISA, card_payment_method
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import setup_intent_confirm
from tests.checkout.test_portal import _deposit_order
from tests.contract.plugin import stripe_requests
from tests.stripe_helpers import pass_3ds

pytestmark = pytest.mark.django_db(transaction=True)
# What Stripe appends to the return_url; the pages must not trust any of it.
STRIPE_QUERY = "?payment_intent=pi_forged&payment_intent_client_secret=x&redirect_status=succeeded"


def _pay_page(client) -> str:
    offer = OfferFactory(slug="course", price_amount=12_000, currency="EUR")
    page = client.get(f"/checkout/{offer.slug}/")
    token = re.search(rb'name="token" value="([0-9a-f-]+)"', page.content).group(1).decode()
    response = client.post(
        f"/checkout/{offer.slug}/",
        {
            "token": token,
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "billing_country": "GB",
            "terms": "on",
        },
    )
    return response["Location"]


def _pay(client, url: str, card: str) -> dict:
    setup = client.post(url + "setup/", content_type="application/json").json()
    saved = setup_intent_confirm(setup["client_secret"], card)
    return client.post(
        url + "pay/",
        {"payment_method": saved.payment_method, "setup_intent": saved.setup_intent},
        content_type="application/json",
    ).json()


def _last_confirm(stripe_requests_log) -> dict:
    confirms = [r for r in stripe_requests(stripe_requests_log) if r["path"].endswith("/confirm")]
    return {k: v[0] for k, v in parse_qs(confirms[-1]["body"]).items()}


def test_the_confirm_tells_stripe_where_to_send_the_buyer_back(
    client, localstripe, settings, stripe_requests_log
):
    settings.PORTAL_BASE_URL = "https://portal.example"
    url = _pay_page(client)

    assert _pay(client, url, VISA)["status"] == "succeeded"

    sent = _last_confirm(stripe_requests_log)
    assert sent["return_url"] == f"https://portal.example{url}return/"
    assert sent["use_stripe_sdk"] == "true"


def test_back_from_the_bank_the_buyer_lands_on_the_paid_order(client, localstripe):
    url = _pay_page(client)
    outcome = _pay(client, url, THREE_DS)
    assert outcome["status"] == "requires_action"
    payment = Payment.objects.get()
    pass_3ds(localstripe, payment.stripe_payment_intent_id, outcome["client_secret"])

    back = client.get(url + "return/" + STRIPE_QUERY)

    assert back.status_code == 302 and back["Location"] == url + "done/"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.events.filter(cause="checkout_refresh").exists()
    done = client.get(back["Location"]).content.decode()
    assert 'data-status="succeeded"' in done
    assert Payment.objects.count() == 1


def test_a_failed_check_brings_the_buyer_back_to_pay_with_what_went_wrong(client, localstripe):
    url = _pay_page(client)
    outcome = _pay(client, url, THREE_DS)
    payment = Payment.objects.get()
    pass_3ds(localstripe, payment.stripe_payment_intent_id, outcome["client_secret"], success=False)

    back = client.get(url + "return/" + STRIPE_QUERY)

    assert back["Location"] == url
    page = client.get(url).content.decode()
    assert "bank&#x27;s extra check was not completed" in page
    assert Payment.objects.get().status == Payment.Status.FAILED


def test_the_return_page_works_only_in_the_browser_that_started_the_checkout(client, localstripe):
    url = _pay_page(client)
    _pay(client, url, THREE_DS)

    response = Client().get(url + "return/" + STRIPE_QUERY)

    assert response.status_code == 403
    assert Payment.objects.get().status == Payment.Status.REQUIRES_ACTION


def test_back_from_the_bank_the_portal_records_the_balance(client, localstripe, settings):
    settings.PORTAL_BASE_URL = "https://portal.example"
    order = _deposit_order()
    customer = customer_ensure(email=order.email, name=order.name)
    customer_card_save(customer=customer, payment_method_id=card_payment_method(THREE_DS))
    token = portal_token_make(email=order.email)
    page = client.post(f"/account/{token}/orders/{order.reference}/pay/")
    assert page.status_code == 200  # the portal page, asking for the bank's check
    balance = order.payments.get(attempt_kind=Payment.AttemptKind.BALANCE)
    assert balance.status == Payment.Status.REQUIRES_ACTION
    client_secret = re.search(r'data-client-secret="([^"]+)"', page.content.decode()).group(1)
    pass_3ds(localstripe, balance.stripe_payment_intent_id, client_secret)

    back = client.get(
        f"/account/{token}/orders/{order.reference}/return/" + STRIPE_QUERY, follow=True
    )

    assert "we received €210.00" in back.content.decode()
    balance.refresh_from_db()
    assert balance.status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.balance == 0
