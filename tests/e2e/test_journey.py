"""The whole journey across the apps, with nothing faked: a buyer fills the lead form on a phone,
later checks out with the same email, localstripe sends its signed webhook to the live server,
and a real Celery worker processes it. Access is granted once and one confirmation email goes
out, whichever of the server confirm and the webhook came first."""

import pytest
from django.core.management import call_command

from checkout.models import Entitlement, Notification, Order
from leads.models import ConsentRecord, Lead
from payments.models import Payment, PaymentEvent, WebhookEvent
from tests.checkout.factories import OfferFactory, TaxRateFactory
from tests.conftest import wait_until
from tests.leads.factories import RoutingRuleFactory, SalesOwnerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_lead_to_paid_order_with_access_through_the_real_webhook_and_worker(
    localstripe, celery_worker, live_server, phone_page, settings
):
    settings.LEADS_MIN_FILL_SECONDS = 0.05  # Playwright types faster than a person
    localstripe.register_webhook(
        name="portal",
        url=f"{live_server.url}/webhooks/stripe/",
        secret=settings.STRIPE_WEBHOOK_SECRET,
    )
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    TaxRateFactory(country="GB", rate_bp=2000)
    offer = OfferFactory(
        slug="bookkeeping-course",
        name="Bookkeeping course",
        price_amount=9_900,
        currency="GBP",
        access_name="Course portal",
        access_url="https://learn.example.com/bookkeeping",
    )
    page = phone_page

    # 1. First touch: the lead form, from a campaign.
    page.goto(f"{live_server.url}/start/?utm_source=newsletter&utm_campaign=spring")
    page.get_by_label("Email", exact=True).fill("Grace.Hopper@Example.com")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("I agree to the terms").check()
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/start/thanks/**")
    lead = Lead.objects.get()
    assert lead.first_touch.utm_source == "newsletter"
    # Routing is intake's work: the worker gives the lead its owner right after capture.
    wait_until(lambda: Lead.objects.filter(pk=lead.pk, owner=owner.user).exists())
    lead.refresh_from_db()

    # 2. Checkout with the same person, typed differently.
    page.goto(f"{live_server.url}/checkout/{offer.slug}/")
    page.get_by_role("textbox", name="Email").fill("  grace.hopper@EXAMPLE.com ")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Billing country").select_option("GB")
    page.locator("input[name=terms]").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/checkout/*/*/")
    page.get_by_label("Card number").fill("4242424242424242")
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YY)").fill("34")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_label("Postcode").fill("SW1A1AA")
    page.locator("[data-card-submit]").click()
    page.wait_for_url("**/done/")

    # Access is on the page at once (the server confirm came back before the webhook).
    order = Order.objects.get()
    entitlement = Entitlement.objects.get(order=order)
    assert page.get_by_test_id("access-code").inner_text() == entitlement.access_code
    # Prices include tax by default: 9,900 with 20 % UK VAT inside it.
    assert (order.status, order.total, order.tax, order.amount_paid, order.balance) == (
        "paid",
        9_900,
        1_650,
        9_900,
        0,
    )
    assert Lead.objects.count() == 1 and order.lead_id == lead.pk

    # 3. localstripe's signed webhook reaches the inbox and the real worker processes it.
    payment = Payment.objects.get(order=order)
    event = wait_until(
        lambda: WebhookEvent.objects.filter(
            type="payment_intent.succeeded", status=WebhookEvent.Status.PROCESSED
        ).first(),
        timeout=30,
        message="the payment_intent.succeeded webhook was never processed by the worker",
    )
    assert event.payload["data"]["object"]["id"] == payment.stripe_payment_intent_id
    from_webhook = PaymentEvent.objects.get(payment=payment, stripe_event_id=event.stripe_event_id)
    assert from_webhook.outcome == PaymentEvent.Outcome.UNCHANGED  # already succeeded

    # 4. Exactly once: one entitlement, one confirmation email, sent by the worker.
    sent = wait_until(
        lambda: Notification.objects.filter(
            order=order, kind=Notification.Kind.PAYMENT_CONFIRMED, status="sent"
        ).count(),
        timeout=30,
        message="the confirmation email was never sent",
    )
    assert sent == 1
    assert Entitlement.objects.filter(order=order).count() == 1
    assert Notification.objects.filter(order=order).count() == 1
    # ...which carried the payment's receipt, issued and rendered by the worker (receipts).
    from receipts.models import Receipt

    receipt = Receipt.objects.get(payment=payment)
    confirmation = Notification.objects.get(order=order, kind=Notification.Kind.PAYMENT_CONFIRMED)
    assert receipt.status == Receipt.Status.STORED and receipt.total == order.total
    assert [a["document"] for a in confirmation.attachments] == [f"receipt:{receipt.pk}"]
    assert receipt.snapshot["payment"]["last4"] == "4242"

    # 5. One consent ledger for the person across both forms, and it verifies.
    records = list(
        ConsentRecord.objects.filter(lead=lead)
        .order_by("sequence")
        .values_list("source_form", "purpose", "decision")
    )
    assert records == [
        ("lead_form", "terms", "granted"),
        ("lead_form", "marketing_email", "not_given"),
        ("lead_form", "sms", "not_given"),
        ("checkout", "terms", "granted"),
        ("checkout", "marketing_email", "not_given"),
    ]
    call_command("consent_chain_verify", "--lead", str(lead.pk))
