"""The buyer's card flow in Chromium on a phone, against localstripe and its Stripe.js stand-in."""

import pytest
from django.contrib.auth import get_user_model

from checkout.models import Entitlement, Order
from payments.models import Payment
from tests.checkout.factories import OfferFactory, TaxRateFactory
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VISA = "4242424242424242"
DECLINED = "4000000000000341"
THREE_DS = "4000002760003184"


@pytest.fixture
def offer(localstripe):
    TaxRateFactory(country="GB", rate_bp=2000)
    return OfferFactory(
        slug="masterclass",
        name="Masterclass",
        price_amount=12_000,
        currency="EUR",
        access_name="Masterclass online",
        access_url="https://learn.example.com/masterclass",
    )


def _details(page, base_url, slug, email="ada@example.com"):
    page.goto(f"{base_url}/checkout/{slug}/")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Billing country").select_option("GB")
    page.locator("input[name=terms]").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/checkout/*/*/")


def _card(page, number):
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YY)").fill("34")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_label("Postcode").fill("10001")


def _pay(page):
    page.locator("[data-card-submit]").click()


def _bank_check(page, *, approve: bool):
    page.get_by_role(
        "button", name="Complete authentication" if approve else "Fail authentication"
    ).click()


def test_a_card_payment_on_a_phone_grants_access_at_once(live_server, phone_page, offer):
    with phone_page.expect_response("**/checkout/*/*/") as pay_page:
        _details(phone_page, live_server.url, offer.slug)
    # The card form runs under the policy: Stripe.js is allowed, and nothing on it is blocked.
    assert (
        "script-src 'self' http://127.0.0.1:" in pay_page.value.headers["content-security-policy"]
    )
    summary = phone_page.locator("section.card").first
    assert "€100.00" in summary.inner_text() and "€20.00" in summary.inner_text()
    assert "€120.00" in summary.inner_text()
    _card(phone_page, VISA)
    assert phone_page.csp_violations == []
    _pay(phone_page)
    phone_page.wait_for_url("**/done/")
    assert phone_page.csp_violations == []

    result = phone_page.get_by_test_id("result")
    assert result.get_attribute("data-status") == "succeeded"
    order = Order.objects.get()
    entitlement = Entitlement.objects.get(order=order)
    assert phone_page.get_by_test_id("access-code").inner_text() == entitlement.access_code
    assert "Masterclass online" in phone_page.get_by_test_id("access").inner_text()
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount_received, payment.currency) == (
        "succeeded",
        12_000,
        "eur",
    )
    assert (order.status, order.amount_paid, order.balance) == ("paid", 12_000, 0)
    assert order.lead.email == "ada@example.com"
    assert payment.customer.card_last4 == "4242"
    # The page fits a phone: no sideways scrolling.
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_3ds_card_that_passes_the_banks_check(live_server, phone_page, offer):
    _details(phone_page, live_server.url, offer.slug)
    _card(phone_page, THREE_DS)
    _pay(phone_page)
    _bank_check(phone_page, approve=True)  # saving the card
    _bank_check(phone_page, approve=True)  # the payment
    phone_page.wait_for_url("**/done/")
    assert phone_page.csp_violations == []  # localstripe's 3DS box styles itself from script

    assert phone_page.get_by_test_id("result").get_attribute("data-status") == "succeeded"
    order = Order.objects.get()
    payment = Payment.objects.get(order=order)
    assert payment.status == "succeeded"
    assert payment.events.filter(to_status="requires_action", outcome="applied").exists()
    assert order.status == "paid" and Entitlement.objects.filter(order=order).exists()


def test_a_3ds_card_that_fails_the_banks_check_charges_nothing(live_server, phone_page, offer):
    _details(phone_page, live_server.url, offer.slug)
    _card(phone_page, THREE_DS)
    _pay(phone_page)
    _bank_check(phone_page, approve=True)
    _bank_check(phone_page, approve=False)

    errors = phone_page.locator("[data-card-errors]")
    wait_until(lambda: "bank's extra check was not completed" in errors.inner_text())
    order = Order.objects.get()
    payment = Payment.objects.get(order=order)
    assert payment.status == "failed"
    assert payment.failure_code == "payment_intent_authentication_failure"
    assert order.status == "failed" and not Entitlement.objects.filter(order=order).exists()
    assert phone_page.locator("[data-card-submit]").is_enabled()


def test_a_declined_card_explains_and_the_retry_with_another_card_works(
    live_server, phone_page, offer
):
    _details(phone_page, live_server.url, offer.slug)
    _card(phone_page, DECLINED)
    _pay(phone_page)
    errors = phone_page.locator("[data-card-errors]")
    wait_until(lambda: "Your bank declined this card. Nothing was charged." in errors.inner_text())
    order = Order.objects.get()
    assert order.status == "failed"
    declined = Payment.objects.get(order=order)
    assert (declined.status, declined.failure_code) == ("failed", "card_declined")

    _card(phone_page, VISA)
    _pay(phone_page)
    phone_page.wait_for_url("**/done/")
    assert phone_page.get_by_test_id("result").get_attribute("data-status") == "succeeded"
    order.refresh_from_db()
    payments = list(Payment.objects.filter(order=order).order_by("created_at"))
    assert [p.status for p in payments] == ["failed", "succeeded"]
    assert payments[1].idempotency_key == f"order:{order.pk}:checkout:2"
    assert order.status == "paid" and Entitlement.objects.filter(order=order).exists()


def test_a_hold_is_authorised_then_captured_from_the_admin(live_server, phone_page, localstripe):
    offer = OfferFactory(
        slug="van-hire", name="Van hire deposit", billing_type="hold", price_amount=30_000
    )
    _details(phone_page, live_server.url, offer.slug, email="hal@example.com")
    assert "refundable hold" in phone_page.content()
    _card(phone_page, VISA)
    phone_page.get_by_role("button", name="Place hold of €300.00").click()
    phone_page.wait_for_url("**/done/")
    assert phone_page.get_by_test_id("result").get_attribute("data-status") == "authorized"
    order = Order.objects.get()
    hold = Payment.objects.get(order=order)
    assert (hold.status, hold.capture_method, hold.amount_received) == ("authorized", "manual", 0)
    assert order.amount_paid == 0 and order.amount_authorized == 30_000

    get_user_model().objects.create_superuser("fran", "fran@example.com", "a-strong-pass-123")
    admin = phone_page
    admin.goto(f"{live_server.url}/admin/login/?next=/admin/checkout/order/")
    admin.get_by_label("Username").fill("fran")
    admin.get_by_label("Password").fill("a-strong-pass-123")
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url("**/admin/checkout/order/")
    admin.locator(f"input[name=_selected_action][value='{order.pk}']").check()
    admin.locator("select[name=action]").select_option("capture_hold")
    admin.locator("button[name=index]").click()
    admin.wait_for_load_state()
    assert "captured €300.00" in admin.content()

    hold.refresh_from_db()
    order.refresh_from_db()
    assert (hold.status, hold.amount_received) == ("succeeded", 30_000)
    assert (order.status, order.amount_paid) == ("paid", 30_000)
    assert Entitlement.objects.filter(order=order).exists()
    assert hold.events.filter(cause="staff_capture", actor__username="fran").exists()
