"""The whole way back, in Chromium on a phone: a buyer's card is declined at checkout, the case
opens, the emailed link opens, they pay with a new card that needs 3DS, and see a success page.
The case is recovered, access granted, and the payment's receipt issued and sent with the
confirmation."""

import re

import pytest
from django.core import mail

from checkout.models import Entitlement, Notification, Order
from dunning.models import DunningCase, PaymentLink
from receipts.models import Receipt
from tests.checkout.factories import OfferFactory, TaxRateFactory
from tests.checkout.test_browser_checkout import (
    DECLINED,
    THREE_DS,
    _bank_check,
    _card,
    _details,
    _pay,
)
from tests.conftest import wait_until
from tests.dunning.factories import case_opened

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_eager"),
]


def test_declined_at_checkout_then_paid_through_the_emailed_link_with_3ds_on_a_phone(
    live_server, phone_page, localstripe
):
    TaxRateFactory(country="GB", rate_bp=2000)
    offer = OfferFactory(slug="masterclass", name="Masterclass", price_amount=12_000,
                         access_name="Masterclass online")  # fmt: skip
    _details(phone_page, live_server.url, offer.slug, email="grace@example.com")
    _card(phone_page, DECLINED)
    _pay(phone_page)
    errors = phone_page.locator("[data-card-errors]")
    wait_until(lambda: "Your bank declined this card" in errors.inner_text())
    order = Order.objects.get()
    assert order.status == "failed"
    assert not Notification.objects.filter(kind="payment_failed").exists()  # never both

    # The buyer leaves; after the grace period the case opens and the first email goes.
    case = case_opened(order)
    assert case.status == "retry_scheduled"
    (email,) = mail.outbox
    assert email.to == ["grace@example.com"] and "did not go through" in email.subject
    path = re.search(r"https?://[^/\s]+(/pay/[\w-]+/)", email.body).group(1)

    phone_page.goto(live_server.url + path)
    assert phone_page.get_by_role("heading", name="Finish your payment").is_visible()
    assert "€120.00" in phone_page.get_by_test_id("amount").inner_text()
    assert "declined" in phone_page.get_by_test_id("what-happened").inner_text()
    # It fits a phone: no sideways scrolling.
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _card(phone_page, THREE_DS)
    phone_page.get_by_role("button", name="Pay €120.00").click()
    _bank_check(phone_page, approve=True)  # saving the card
    _bank_check(phone_page, approve=True)  # the payment
    phone_page.wait_for_url("**/done/")
    assert phone_page.get_by_test_id("result").get_attribute("data-status") == "succeeded"
    assert phone_page.csp_violations == []

    case = DunningCase.objects.get()
    order.refresh_from_db()
    assert (case.status, case.recovered_channel, case.amount_recovered) == (
        "recovered", "link", 12_000,
    )  # fmt: skip
    assert case.next_action_at is None and not case.attempts.exists()
    assert PaymentLink.objects.get().used_at is not None
    assert order.status == "paid"
    entitlement = Entitlement.objects.get(order=order)
    assert phone_page.get_by_test_id("access-code").inner_text() == entitlement.access_code
    confirmed = Notification.objects.get(order=order, kind="payment_confirmed")
    assert confirmed.status == "sent"
    last = mail.outbox[-1]
    assert last.subject == "Payment received: your access to Masterclass"
    receipt = Receipt.objects.get(payment__order=order, payment__status="succeeded")
    assert receipt.number.startswith("R-")
    assert [name for name, _content, kind in last.attachments if kind == "application/pdf"] == [
        f"{receipt.number}.pdf"
    ]
