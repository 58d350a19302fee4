"""A finance user signs in, opens the dashboard in Chromium, sees every chart drawn under the
Content-Security-Policy, switches currency and downloads a CSV."""

import csv
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from checkout.models import PaymentCsat
from tests.config.test_admin_browser import code_now
from tests.conftest import csp_violations_watch
from tests.leads.factories import UserFactory
from tests.reporting.factories import at, november_history

pytestmark = pytest.mark.e2e

PASSWORD = "a-strong-pass-123"
SCREENSHOT = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"


def staff_sign_in(page, base_url: str, user, password: str = PASSWORD) -> None:
    """Sign in on the admin's login page with the password, then the code of the user's
    authenticator app (two-factor sign-in is required)."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    page.goto(f"{base_url}/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/two-factor/**")
    page.get_by_label("Code").fill(code_now(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base_url}/admin/")


@pytest.fixture
def desk_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.csp_violations = csp_violations_watch(page)
    yield page
    context.close()
    if page.csp_violations:
        pytest.fail("blocked by the Content-Security-Policy:\n" + "\n".join(page.csp_violations))


# Each canvas has drawn something: some pixel is not transparent.
CANVASES_DRAWN = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
})"""


def test_finance_opens_the_dashboard_switches_currency_and_downloads(
    live_server, desk_page, transactional_db, tmp_path, settings
):
    settings.OTP_REQUIRED_FOR_STAFF = True
    history = november_history()
    PaymentCsat.objects.create(order=history.orders["O1"], score=4, answered_at=at(3))
    finance = UserFactory(username="fiona", is_staff=True)
    finance.groups.add(Group.objects.get(name="Finance"))
    page = desk_page

    staff_sign_in(page, live_server.url, finance)
    page.get_by_role("link", name="Finance dashboard").click()
    page.wait_for_selector("body[data-charts-drawn]")
    page.fill("input[name=date_from]", "2026-11-01")
    page.fill("input[name=date_to]", "2026-11-30")
    page.select_option("select[name=currency]", "EUR")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**currency=EUR**")
    page.wait_for_selector("body[data-charts-drawn='12']")
    drawn = page.evaluate(CANVASES_DRAWN)
    assert len(drawn) == 12 and all(drawn), drawn
    revenue = page.locator("#panel-revenue-offer table")
    assert "€200.00" in revenue.inner_text()
    SCREENSHOT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT / "finance-dashboard.png"), full_page=True)

    page.select_option("select[name=currency]", "JPY")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**currency=JPY**")
    page.wait_for_selector("body[data-charts-drawn='12']")
    assert "¥5,000" in page.locator("#panel-revenue-day table").inner_text()
    assert "€" not in page.locator("#panel-revenue-offer table").inner_text()
    assert all(page.evaluate(CANVASES_DRAWN))

    with page.expect_download() as download_info:
        page.locator(".finance-exports li", has_text="Payments").get_by_role(
            "link", name="CSV"
        ).click()
    download = download_info.value
    assert download.suggested_filename == "payments-20261101-20261130.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    rows = list(csv.reader(target.open()))
    assert rows[0][:2] == ["id", "payment_intent"] and len(rows) == 8
