"""Payment links at /pay/<token>/: random, stored only as a hash, for one case and amount,
expiring, single use, clicks recorded; the card step is checkout's; the rest works without
JavaScript, under the strict Content-Security-Policy."""

import hashlib
import json
import re
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from checkout.models import Entitlement, Notification, Order
from dunning.models import DunningAttempt, DunningCase, DunningCaseNote, PaymentLink
from dunning.services import dunning_case_cancel, dunning_tick
from payments.models import Payment
from tests.checkout.cards import VISA
from tests.checkout.saved_cards import setup_intent_confirm
from tests.config.test_csp import _assert_nothing_inline, _assert_strict, _policy
from tests.dunning.factories import THREE_DS, case_opened, checkout_declined
from tests.stripe_helpers import pass_3ds

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]

_TOKEN = re.compile(r"/pay/([A-Za-z0-9_-]+)/")


def _opened_with_link(**kwargs):
    order, _payment = checkout_declined(**kwargs)
    case = case_opened(order)
    token = _TOKEN.search(mail.outbox[-1].body).group(1)
    return order, case, token


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def _pay_with(client, token, number=VISA):
    setup = _post(client, f"/pay/{token}/setup/")
    assert setup.status_code == 200, setup.content
    card = setup_intent_confirm(setup.json()["client_secret"], number)
    return _post(
        client,
        f"/pay/{token}/card/",
        {"payment_method": card.payment_method, "setup_intent": card.setup_intent},
    )


def _fail_3ds(localstripe, intent_id, client_secret):
    data = urllib.parse.urlencode(
        {"client_secret": client_secret, "success": "false", "key": "pk_test_portal_tests"}
    ).encode()
    url = f"{localstripe.api_base}/v1/payment_intents/{intent_id}/_authenticate"
    urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10)


def test_the_token_is_random_and_stored_only_as_a_hash(localstripe):
    order, case, token = _opened_with_link()
    link = PaymentLink.objects.get()
    assert len(token) >= 40 and link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (link.case_id, link.amount, link.currency) == (case.pk, order.amount_due_now, "EUR")
    assert link.expires_at - link.created_at == timedelta(days=14)
    # The message went out with the link; the stored copy no longer holds a working token.
    sent = Notification.objects.get(kind="payment_reminder")
    assert sent.status == "sent" and token not in sent.body_text and token not in sent.body_html
    assert "[redacted]" in sent.body_text and "secrets" not in sent.context
    for row in PaymentLink.objects.values():
        assert token not in json.dumps(row, default=str)


def test_the_page_explains_works_without_javascript_and_keeps_the_strict_policy(
    client, localstripe, settings
):
    order, _case, token = _opened_with_link()
    page = client.get(f"/pay/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "did not go through" in html and order.reference in html
    assert "€120.00" in html  # the amount
    # Without JavaScript: the bank transfer and the callback are plain forms; the card step says
    # it needs JavaScript.
    assert "<noscript>" in html and f'action="/pay/{token}/transfer/"' in html
    assert f'action="/pay/{token}/callback/"' in html and settings.DUNNING_BANK_IBAN in html
    assert "data-portal-card" in html and f'data-setup-url="/pay/{token}/setup/"' in html
    assert page["Cache-Control"] == "private, no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    _assert_strict(_policy(page), localstripe.api_base.replace("localhost", "127.0.0.1"))
    _assert_nothing_inline(html)


def test_a_german_buyer_gets_the_page_and_the_email_in_german(client, localstripe):
    _, case, token = _opened_with_link(country="DE")
    assert case.language == "de" and case.timezone == "Europe/Berlin"
    assert mail.outbox[-1].subject.startswith("Ihre Zahlung für")
    assert "120,00\xa0€" in mail.outbox[-1].body  # German formatting: a no-break space
    html = client.get(f"/pay/{token}/").content.decode()
    assert '<html lang="de">' in html and "Zahlung abschließen" in html
    english = client.get(f"/pay/{token}/?lang=en").content.decode()
    assert '<html lang="en">' in english and "Finish your payment" in english


def test_clicks_are_recorded(client, localstripe):
    _, _case, token = _opened_with_link()
    client.get(f"/pay/{token}/")
    client.get(f"/pay/{token}/", headers={"user-agent": "Phone/1.0"})
    link = PaymentLink.objects.get()
    assert link.clicks == 2 and link.last_clicked_at is not None
    assert list(link.click_log.values_list("outcome", "user_agent")) == [
        ("usable", "Phone/1.0"),
        ("usable", ""),
    ]


def test_a_link_payment_closes_the_case_grants_access_and_cancels_pending_retries(
    client, localstripe
):
    order, case, token = _opened_with_link()
    assert case.next_action_at is not None  # the day-1 retry is pending

    answer = _pay_with(client, token, VISA)
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded"
    assert answer.json()["next_url"] == f"/pay/{token}/done/"

    case.refresh_from_db()
    order.refresh_from_db()
    assert (case.status, case.recovered_channel, case.amount_recovered) == (
        "recovered", "link", order.amount_due_now,
    )  # fmt: skip
    assert case.next_action_at is None
    assert order.status == "paid" and Entitlement.objects.filter(order=order).exists()
    link = PaymentLink.objects.get()
    assert link.used_at is not None and link.paid_by.status == "succeeded"
    paid = link.paid_by
    assert paid.idempotency_key == f"dunning:case:{case.pk}:link:{link.pk}:1"
    assert paid.metadata["dunning_channel"] == "link"
    # Time passes: the pending retries never run.
    dunning_tick(now=timezone.now() + timedelta(days=20), discover=True)
    assert not DunningAttempt.objects.exists()
    done = client.get(f"/pay/{token}/done/")
    assert done.status_code == 200 and "Thank you, payment received" in done.content.decode()
    assert Entitlement.objects.get(order=order).access_code in done.content.decode()
    # The link is used up: it says so and takes nothing more.
    assert client.get(f"/pay/{token}/").url == f"/pay/{token}/done/"
    again = _post(client, f"/pay/{token}/setup/")
    assert again.status_code == 410 and "already been used" in again.json()["message"]
    assert Payment.objects.filter(order=order, status="succeeded").count() == 1


def test_a_failed_3ds_check_on_the_page_goes_back_into_the_case_and_another_try_works(
    client, localstripe
):
    _order, case, token = _opened_with_link()
    answer = _pay_with(client, token, THREE_DS)
    assert answer.json()["status"] == "requires_action"
    secret = answer.json()["client_secret"]
    _fail_3ds(localstripe, secret.split("_secret_")[0], secret)
    status = _post(client, f"/pay/{token}/status/")
    assert status.json()["status"] == "failed" and "confirm" in status.json()["message"]

    case.refresh_from_db()
    assert case.status == "retry_scheduled"  # still the same, open case
    failure = case.events.get(cause="link_payment_failed")
    assert failure.detail["code"] == "payment_intent_authentication_failure"
    assert PaymentLink.objects.get().used_at is None

    answer = _pay_with(client, token, THREE_DS)
    secret = answer.json()["client_secret"]
    pass_3ds(localstripe, secret.split("_secret_")[0], secret)
    assert _post(client, f"/pay/{token}/status/").json()["status"] == "succeeded"
    case.refresh_from_db()
    assert case.status == "recovered"
    keys = sorted(Payment.objects.filter(metadata__dunning_channel="link").values_list(
        "idempotency_key", "status"))  # fmt: skip
    link = PaymentLink.objects.get()
    assert keys == [
        (f"dunning:case:{case.pk}:link:{link.pk}:1", "failed"),
        (f"dunning:case:{case.pk}:link:{link.pk}:2", "succeeded"),
    ]


def test_an_expired_link_says_so_and_sends_a_fresh_one_without_revealing_the_email(
    client, localstripe
):
    order, _case, token = _opened_with_link()
    PaymentLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = client.get(f"/pay/{token}/")
    assert page.status_code == 410
    html = page.content.decode()
    assert "This link has expired" in html and order.email not in html
    assert _post(client, f"/pay/{token}/setup/").status_code == 410

    sent_before = len(mail.outbox)
    fresh = client.post(f"/pay/{token}/fresh/")
    assert fresh.status_code == 200
    assert order.email not in fresh.content.decode()
    assert "email address we have for the order" in fresh.content.decode()
    assert len(mail.outbox) == sent_before + 1
    assert mail.outbox[-1].to == [order.email]
    new_token = _TOKEN.search(mail.outbox[-1].body).group(1)
    assert new_token != token and client.get(f"/pay/{new_token}/").status_code == 200


def test_unknown_tokens_and_links_of_closed_cases_are_refused(client, localstripe):
    assert client.get("/pay/not-a-real-token-at-all-0000000000/").status_code == 404
    assert client.get("/pay/x/").status_code == 404
    assert _post(client, "/pay/not-a-real-token-at-all-0000000000/card/").status_code == 404

    _, case, token = _opened_with_link()
    dunning_case_cancel(case_id=case.pk, cause="test")
    page = client.get(f"/pay/{token}/")
    assert page.status_code == 410 and "Nothing more to pay here" in page.content.decode()
    assert _post(client, f"/pay/{token}/setup/").status_code == 410
    # The same answer for a fresh link on a closed case, and nothing is sent.
    sent = len(mail.outbox)
    assert client.post(f"/pay/{token}/fresh/").status_code == 200
    assert len(mail.outbox) == sent


def test_a_link_never_pays_with_a_card_saved_for_another_case(client, localstripe):
    _order_a, case_a, token_a = _opened_with_link()
    _order_b, _case_b, token_b = _opened_with_link()
    # A card saved on case B's page, sent to case A's link.
    setup_b = _post(client, f"/pay/{token_b}/setup/")
    card_b = setup_intent_confirm(setup_b.json()["client_secret"], VISA)
    answer = _post(
        client,
        f"/pay/{token_a}/card/",
        {"payment_method": card_b.payment_method, "setup_intent": card_b.setup_intent},
    )
    assert answer.status_code == 409 and "could not confirm this card" in answer.json()["message"]
    assert not Payment.objects.filter(metadata__dunning_channel="link").exists()
    case_a.refresh_from_db()
    assert case_a.status == "retry_scheduled"


def test_a_callback_request_lands_in_the_triage_queue(client, localstripe, admin_client):
    order, case, token = _opened_with_link()
    missing = client.post(f"/pay/{token}/callback/", {"phone": ""})
    assert missing.status_code == 302 and "m=phone" in missing.url
    answer = client.post(f"/pay/{token}/callback/", {"phone": "+44 7700 900123", "when": "after 5"})
    assert answer.status_code == 200 and "call you back" in answer.content.decode()
    case.refresh_from_db()
    assert case.callback_requested_at is not None
    note = DunningCaseNote.objects.get()
    assert (note.kind, note.phone, note.body) == ("callback", "+44 7700 900123", "after 5")
    queue = admin_client.get("/admin/dunning/dunningcase/?queue=callback")
    assert queue.status_code == 200 and order.reference in queue.content.decode()


def test_a_buyer_who_pays_by_transfer_is_not_reminded_or_charged_meanwhile(client, localstripe):
    order, case, token = _opened_with_link()
    page = client.get(f"/pay/{token}/").content.decode()
    assert order.reference in page  # the transfer's reference
    answer = client.post(f"/pay/{token}/transfer/")
    assert answer.status_code == 200
    case.refresh_from_db()
    assert case.paused_at is not None and case.next_action_at is None
    assert DunningCaseNote.objects.get().kind == "transfer_announced"
    sent = len(mail.outbox)
    dunning_tick(now=timezone.now() + timedelta(days=3), discover=False)
    assert len(mail.outbox) == sent and not DunningAttempt.objects.exists()
    assert DunningCase.objects.get().status == "retry_scheduled"
    assert Order.objects.get(pk=order.pk).status == "failed"
