"""The customer portal: magic links, what the buyer sees, paying a balance, updating the card."""

import re
import time

import pytest
from django.core import mail, signing

from checkout.models import Offer, Order
from checkout.portal.links import portal_token_make
from checkout.services.accounting import order_payment_record
from checkout.services.entitlements import entitlement_grant
from payments.models import Customer, Payment
from payments.services import customer_card_save, customer_ensure, payment_transition
from tests.checkout.factories import OfferFactory, OrderFactory, PaymentFactory
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _deposit_order(email="ada@example.com"):
    offer = OfferFactory(
        name="Pottery <b>course</b>",
        billing_type=Offer.BillingType.DEPOSIT,
        price_amount=30_000,
        deposit_amount=9_000,
    )
    order = OrderFactory(offer=offer, email=email, amount_due_now=9_000)
    deposit = PaymentFactory(order=order, amount=9_000)
    payment_transition(
        payment_id=deposit.pk, to_status=Payment.Status.SUCCEEDED, cause="test",
        fields={"amount_received": 9_000},
    )  # fmt: skip
    return order_payment_record(payment_id=deposit.pk)


def _link_from(message) -> str:
    return re.search(r"http://\S+/account/\S+/", message.body).group(0)


def test_asking_for_a_link_answers_the_same_whether_or_not_the_email_is_known(client, celery_eager):
    OrderFactory(email="ada@example.com")
    known = client.post("/account/", {"email": "Ada@Example.com"})
    unknown = client.post("/account/", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert "Check your email" in known.content.decode()
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "/account/" in _link_from(mail.outbox[0])
    assert known["Cache-Control"] == "no-store, private"


def test_link_requests_are_rate_limited_per_email(client, settings, celery_eager):
    settings.PORTAL_LINK_REQUESTS_PER_EMAIL = 2
    OrderFactory(email="ada@example.com")
    codes = [client.post("/account/", {"email": "ada@example.com"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert len(mail.outbox) == 2


def test_link_requests_are_limited_per_visitor_behind_the_proxy(client, settings, celery_eager):
    """Behind our proxy every request comes from its address: the limit must count the
    visitor the proxy saw, or one busy IP would lock everybody out."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_LINK_REQUESTS_PER_IP = 2
    settings.PORTAL_LINK_REQUESTS_PER_EMAIL = 100

    def ask(n: int, visitor: str) -> int:
        return client.post(
            "/account/",
            {"email": f"buyer{n}@example.com"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"198.51.100.99, {visitor}",  # the left part is the client's claim
        ).status_code

    assert [ask(n, "203.0.113.7") for n in range(3)] == [200, 200, 429]
    assert [ask(n, "203.0.113.8") for n in range(3, 5)] == [200, 200]


def test_a_tampered_or_expired_link_asks_for_a_new_one(client, settings):
    OrderFactory(email="ada@example.com")
    token = portal_token_make(email="ada@example.com")
    assert client.get(f"/account/{token}/").status_code == 200

    bad = client.get(f"/account/{token[:-2]}xx/")
    assert bad.status_code == 404 and "does not work" in bad.content.decode()
    # A value signed for another purpose (another salt) is not a portal link.
    forged = signing.TimestampSigner(salt="other").sign_object({"e": "ada@example.com"})
    assert client.get(f"/account/{forged}/").status_code == 404

    settings.PORTAL_LINK_MAX_AGE_SECONDS = 1
    time.sleep(2.1)
    expired = client.get(f"/account/{token}/")
    assert expired.status_code == 410 and "expired" in expired.content.decode()


def test_the_portal_shows_the_buyers_orders_balance_and_access_and_nobody_elses(client):
    order = _deposit_order()
    OrderFactory(email="eve@example.com", reference="O-EVE")
    page = client.get(f"/account/{portal_token_make(email='ada@example.com')}/")
    html = page.content.decode()

    assert page.status_code == 200
    assert order.reference in html and "O-EVE" not in html
    assert "Pottery &lt;b&gt;course&lt;/b&gt;" in html
    assert "Part paid: €210.00 still to pay" in html
    assert order.entitlement.access_code in html
    assert "add a card" in html  # no saved card yet: the pay button asks for one
    assert "Your receipts will appear here" in html
    assert page["Referrer-Policy"] == "same-origin"


def test_paying_the_balance_with_the_saved_card_against_localstripe(client, localstripe):
    order = _deposit_order()
    customer = customer_ensure(email=order.email, name=order.name)
    customer_card_save(customer=customer, payment_method_id="pm_card_visa")
    token = portal_token_make(email=order.email)
    assert "Pay €210.00 with Visa ending 4242" in client.get(f"/account/{token}/").content.decode()

    url = f"/account/{token}/orders/{order.reference}/pay/"
    first = client.post(url, follow=True)
    second = client.post(url, follow=True)  # a double click pays nothing more

    assert "we received €210.00" in first.content.decode()
    assert "nothing left to pay" in second.content.decode()
    order.refresh_from_db()
    assert (order.status, order.balance, order.amount_paid) == (Order.Status.PAID, 0, 30_000)
    balance = order.payments.get(attempt_kind=Payment.AttemptKind.BALANCE)
    assert balance.idempotency_key == f"order:{order.pk}:balance:1"
    assert balance.status == Payment.Status.SUCCEEDED


def test_a_balance_below_the_card_minimum_is_not_offered_or_charged(client, localstripe):
    """A buyer who paid all but €0.40 (a short payment) cannot pay that by card: Stripe refuses
    anything under €0.50. No Pay button, a plain way out, and a forged POST charges nothing."""
    order = _deposit_order()
    short = PaymentFactory(order=order, amount=20_960)
    payment_transition(
        payment_id=short.pk, to_status=Payment.Status.SUCCEEDED, cause="test",
        fields={"amount_received": 20_960},
    )  # fmt: skip
    order = order_payment_record(payment_id=short.pk)
    assert order.balance == 40
    customer = customer_ensure(email=order.email, name=order.name)
    customer_card_save(customer=customer, payment_method_id="pm_card_visa")
    token = portal_token_make(email=order.email)

    page = client.get(f"/account/{token}/").content.decode()
    assert "€0.40 is less than the smallest card payment we can take" in page
    assert "Pay €0.40" not in page and f"orders/{order.reference}/pay/" not in page

    response = client.post(f"/account/{token}/orders/{order.reference}/pay/", follow=True)
    assert "cannot be paid by card. Nothing was charged." in response.content.decode()
    assert not order.payments.filter(attempt_kind=Payment.AttemptKind.BALANCE).exists()
    order.refresh_from_db()
    assert order.balance == 40


def test_another_buyers_order_cannot_be_paid_with_my_link(client):
    _deposit_order()
    other = _deposit_order(email="eve@example.com")
    token = portal_token_make(email="ada@example.com")
    assert client.post(f"/account/{token}/orders/{other.reference}/pay/").status_code in (302, 404)
    assert not other.payments.filter(attempt_kind=Payment.AttemptKind.BALANCE).exists()


@pytest.mark.e2e
def test_on_a_phone_the_buyer_updates_the_card_and_pays_the_balance(
    live_server, phone_page, localstripe
):
    order = _deposit_order()
    entitlement_grant(order=order, payment=None)
    phone_page.goto(f"{live_server.url}/account/{portal_token_make(email=order.email)}/")
    assert phone_page.get_by_text("Part paid: €210.00 still to pay").is_visible()

    card = phone_page.locator("#card-element")
    card.get_by_placeholder("number").fill("4242424242424242")
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("42424")
    phone_page.get_by_role("button", name="Save card").click()

    wait_until(lambda: Customer.objects.filter(email=order.email, card_last4="4242").exists())
    pay = phone_page.get_by_role("button", name=re.compile(r"Pay €210\.00 with .* ending 4242"))
    pay.click()
    phone_page.get_by_text("we received €210.00").wait_for()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.balance == 0
    assert phone_page.get_by_text("Paid in full").is_visible()


def _complete_3ds(payment: Payment) -> None:
    """The buyer passes the bank's check in the browser (localstripe's own endpoint)."""
    import requests
    import stripe
    from django.conf import settings

    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    intent = client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent.id}/_authenticate",
        data={"client_secret": intent.client_secret, "success": "true", "key": "pk_test_portal"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _balance_intents(order) -> list:
    from payments import gateway

    return [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip


def test_a_balance_paid_but_not_yet_recorded_on_the_order_is_not_charged_again(localstripe):
    from checkout.portal.services import BalanceNotPayable, order_balance_pay
    from payments.services import payment_refresh
    from tests.checkout.cards import THREE_DS, card_payment_method

    order = _deposit_order()
    customer = customer_ensure(email=order.email, name=order.name)
    customer = customer_card_save(
        customer=customer, payment_method_id=card_payment_method(THREE_DS)
    )
    first = order_balance_pay(order=order, customer=customer)
    assert first.status == Payment.Status.REQUIRES_ACTION

    # A second click while the bank's check is open returns the same attempt.
    assert order_balance_pay(order=order, customer=customer) == first
    assert len(_balance_intents(order)) == 1

    # The buyer passes 3DS and the webhook records the payment as succeeded, but the order's
    # cached balance is not brought in line yet (order_payment_record has not run).
    _complete_3ds(first)
    first = payment_refresh(payment=first, cause="webhook")
    assert first.status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.balance == 21_000  # stale

    with pytest.raises(BalanceNotPayable):
        order_balance_pay(order=order, customer=customer)

    assert len(_balance_intents(order)) == 1
    assert list(order.payments.filter(attempt_kind=Payment.AttemptKind.BALANCE)) == [first]
    order.refresh_from_db()
    assert order.balance == 21_000  # refusing changed nothing
