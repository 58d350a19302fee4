"""The lead form in Chromium on a phone-sized viewport, checked against the database."""

import pytest

from leads.models import ConsentConfirmation, Lead
from tests.conftest import wait_until
from tests.leads.factories import RoutingRuleFactory, SalesOwnerFactory

pytestmark = pytest.mark.e2e


def test_a_visitor_fills_the_form_on_a_phone(live_server, phone_page, celery_worker, settings):
    # Playwright types far faster than a person; the fill-time rule would score it as a bot.
    settings.LEADS_MIN_FILL_SECONDS = 0.05
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    page = phone_page
    page.goto(
        f"{live_server.url}/start/?utm_source=instagram&utm_medium=social"
        "&utm_campaign=autumn&fbclid=IwAR0abc"
    )

    # The right keyboards on a phone.
    email = page.get_by_label("Email", exact=True)
    phone = page.get_by_label("Phone (optional)")
    assert email.get_attribute("type") == "email"
    assert email.get_attribute("inputmode") == "email"
    assert phone.get_attribute("type") == "tel"
    assert phone.get_attribute("autocomplete") == "tel"
    # One column that fits the screen: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Each field says why it is asked.
    assert page.get_by_text("So we can reply to you. We never share it.").is_visible()

    # Inline validation before sending (progressive enhancement).
    email.fill("not-an-email")
    email.blur()
    assert page.locator("#id_email_error").inner_text() == (
        "Enter an email address like name@example.com."
    )
    phone.fill("call me")
    phone.blur()
    assert page.locator("#id_phone_error").inner_text().startswith("Enter a phone number")
    page.get_by_role("button", name="Send").click()
    assert page.locator("#id_name_error").inner_text().startswith("Tell us your name")
    assert Lead.objects.count() == 0

    email.fill("Mobile.Buyer@Example.com")
    page.get_by_label("Your name").fill("Mo <b>Bile</b>")
    phone.fill("07911 123456")
    page.get_by_label("Country (optional)").select_option("GB")
    page.get_by_label("I agree to the terms").check()
    page.get_by_label("Send me occasional emails").check()
    page.get_by_role("button", name="Send").click()

    page.wait_for_url(f"{live_server.url}/start/thanks/?confirm=email")
    assert page.get_by_text("One more step: check your inbox").is_visible()

    lead = Lead.objects.get()
    assert lead.email == "mobile.buyer@example.com"
    assert lead.name == "Mo <b>Bile</b>"
    assert lead.phone == "+447911123456"
    assert lead.country == "GB"
    assert lead.is_ready
    records = list(lead.consent_records.order_by("sequence"))
    assert [(r.purpose, r.decision, r.method) for r in records] == [
        ("terms", "granted", "form"),
        ("marketing_email", "pending_confirmation", "form"),
        ("sms", "not_given", "form"),
    ]
    assert all(r.ip == "127.0.0.1" for r in records)
    assert records[0].user_agent == page.evaluate("navigator.userAgent")
    assert records[0].source_url == f"{live_server.url}/start/"
    # Intake, in the real worker right after capture: an owner, and the double opt-in email.
    wait_until(lambda: ConsentConfirmation.objects.filter(lead=lead, sent_at__isnull=False))
    lead.refresh_from_db()
    assert lead.owner == owner.user
    assert lead.intake_pending_since is None
    assert ConsentConfirmation.objects.filter(lead=lead).count() == 1
    touch = lead.first_touch
    assert (touch.utm_source, touch.utm_medium, touch.utm_campaign, touch.fbclid) == (
        "instagram",
        "social",
        "autumn",
        "IwAR0abc",
    )
    assert touch.landing_page.startswith(f"{live_server.url}/start/?utm_source=instagram")


def test_the_form_works_without_javascript(live_server, browser, settings):
    settings.LEADS_MIN_FILL_SECONDS = 0.05
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/start/")
        page.get_by_label("Email", exact=True).fill("nojs@example.com")
        page.get_by_label("Your name").fill("No Script")
        page.get_by_label("Phone (optional)").fill("12")
        page.get_by_label("I agree to the terms").check()
        page.get_by_role("button", name="Send").click()

        # The server answers with the same page and an inline message on the field.
        page.wait_for_load_state()
        assert page.locator("#id_phone_error").inner_text().startswith("Enter a phone number")
        assert page.get_by_label("Email", exact=True).input_value() == "nojs@example.com"
        assert Lead.objects.count() == 0

        page.get_by_label("Phone (optional)").fill("")
        page.get_by_label("I agree to the terms").check()
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(f"{live_server.url}/start/thanks/")
        assert Lead.objects.get().email == "nojs@example.com"
    finally:
        context.close()


def test_the_api_docs_show_the_lead_endpoint_in_swagger(live_server, phone_page):
    """Issue 3: the JSON endpoint is documented with Swagger at /api/docs/. The page must render
    offline, from our own static files, under the Content-Security-Policy (phone_page fails
    the test if anything is blocked)."""
    page = phone_page
    page.goto(f"{live_server.url}/api/docs/")
    endpoint = page.locator(".opblock-summary-path", has_text="/api/v1/leads/").first
    endpoint.wait_for()
    assert endpoint.is_visible()
    assert page.locator(".info .title", has_text="Lead-to-cash portal API").count() == 1
