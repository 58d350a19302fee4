"""The staff side in a real browser: sign-in with a password and an authenticator code, the
staff home, and change lists that fit a 1280-pixel screen without sideways scrolling."""

import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.money import money_format
from payments.models import Discrepancy, Payment, Refund, WebhookEvent
from tests.checkout.factories import OfferFactory, OrderFactory
from tests.conftest import csp_violations_watch
from tests.leads.factories import capture_lead
from tests.payments.factories import payment_create

pytestmark = pytest.mark.e2e

PASSWORD = "a-strong-pass-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

CHANGELISTS = [
    "/admin/payments/payment/",
    "/admin/payments/refund/",
    "/admin/payments/dispute/",
    "/admin/payments/discrepancy/",
    "/admin/payments/webhookevent/",
    "/admin/payments/deadletterevent/",
    "/admin/checkout/order/",
    "/admin/checkout/offer/",
    "/admin/checkout/subscription/",
    "/admin/checkout/notification/",
    "/admin/leads/lead/",
    "/admin/receipts/receipt/",
    "/admin/receipts/creditnote/",
    "/admin/dunning/dunningcase/",
    "/admin/portal/auditlogentry/",
    "/admin/auth/user/",
]


def code_now(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def rows() -> None:
    offer = OfferFactory(name="Advanced negotiation masterclass for growing teams")
    for n in range(8):
        lead = capture_lead(name=f"Alexandra Montgomery-Smythe {n}", company="Northwind Traders")
        order = OrderFactory(offer=offer, lead=lead, email=lead.email, name=lead.name)
        payment = payment_create(
            order=order, amount=1_234_567, currency="eur", status=Payment.Status.SUCCEEDED,
            amount_received=1_234_567, amount_refunded=4_900,
        )  # fmt: skip
        Refund.objects.create(
            payment=payment, amount=4_900, currency="eur", status="succeeded",
            idempotency_key=f"layout-refund-{n}",
        )  # fmt: skip
        Discrepancy.objects.create(
            kind="overpayment", payment=payment, order=order, amount=500, currency="jpy"
        )
        WebhookEvent.objects.create(
            stripe_event_id=f"evt_1QfLongIdentifierForLayout{n:04d}",
            type="payment_intent.payment_failed",
            object_id=payment.stripe_payment_intent_id,
            status=WebhookEvent.Status.DEAD if n % 2 else WebhookEvent.Status.PROCESSED,
            attempts=8,
            last_error="Timeout talking to Stripe after 3 retries " * 3,
        )


def test_a_superuser_signs_in_with_a_code_and_every_list_fits_1280_pixels(
    live_server, browser, transactional_db, settings
):
    settings.OTP_REQUIRED_FOR_STAFF = True
    user = get_user_model().objects.create_superuser("fran", "fran@example.com", PASSWORD)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    rows()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    violations = csp_violations_watch(page)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("fran")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/two-factor/**")
    page.get_by_label("Code").fill(code_now(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    home = page.locator(".staff-home")
    assert home.get_by_text("Open discrepancies").is_visible()
    assert home.locator('[data-item="discrepancies_open"] .staff-home-count').inner_text() == "8"
    assert home.locator('[data-item="webhook_events_dead"] .staff-home-count').inner_text() == "4"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "staff_home.png"), full_page=True)

    too_wide = {}
    for url in CHANGELISTS:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, url
        # The page itself, and the admin's results box (which scrolls on its own when the
        # table is wider than it: sideways scrolling too, only less visible).
        widths = page.evaluate(
            """() => {
                const page = document.scrollingElement;
                const box = document.querySelector("#changelist .results");
                return [page.scrollWidth, page.clientWidth,
                        box ? box.scrollWidth : 0, box ? box.clientWidth : 0];
            }"""
        )
        if widths[0] > widths[1] or widths[2] > widths[3]:
            too_wide[url] = widths
    page.goto(f"{live_server.url}/admin/payments/payment/")
    page.screenshot(path=str(SCREENSHOTS / "payments_1280.png"))
    assert money_format(1_234_567, "eur") in page.content()
    assert too_wide == {}
    assert violations == []
    context.close()
