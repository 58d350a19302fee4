"""The Stripe peer refuses what Stripe refuses, and does what Stripe does, at 2026-10-28.endive."""

from __future__ import annotations

import time

import pytest
import stripe

from tests.devtools.conftest import raw

PINNED = "2026-10-28.endive"


def _customer(client) -> str:
    return client.v1.customers.create(params={"email": "buyer@example.com"}).id


def _paid_intent(client, *, amount=2_000, currency="usd", payment_method="pm_card_visa"):
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "allowed_payment_method_types": ["card"],
            "confirm": True,
            "return_url": "https://portal.example/return/",
        }
    )


# --- refusals in Stripe's shape ---------------------------------------------------------------


def test_an_unknown_parameter_is_refused_as_stripe_refuses_it(peer):
    status, _, body = raw(
        peer, "POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd", "colour": "red"}
    )
    assert status == 400
    assert body == {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
            "param": "colour",
            "message": "Received unknown parameter: colour",
        }
    }


def test_a_nested_unknown_parameter_is_named_in_full(peer):
    status, _, body = raw(
        peer,
        "POST",
        "/v1/payment_intents",
        {"amount": 2000, "currency": "usd", "payment_method_options[card][colour]": "red"},
    )
    assert status == 400
    assert body["error"]["param"] == "payment_method_options[card][colour]"
    assert body["error"]["code"] == "parameter_unknown"


@pytest.mark.parametrize("path", ["/v1/payment_intents", "/v1/setup_intents"])
def test_payment_method_types_gets_the_code_stripe_gives_since_2026_09_30(peer, path):
    params = {"payment_method_types[0]": "card"}
    if path == "/v1/payment_intents":
        params |= {"amount": 2000, "currency": "usd"}
    status, _, body = raw(peer, "POST", path, params)
    assert status == 400
    assert body["error"]["code"] == "payment_method_types_no_longer_supported"
    assert body["error"]["param"] == "payment_method_types"


def test_a_value_outside_an_enum_is_refused(peer):
    status, _, body = raw(
        peer,
        "POST",
        "/v1/payment_intents",
        {"amount": 2000, "currency": "usd", "capture_method": "later"},
    )
    assert status == 400
    assert body["error"]["param"] == "capture_method"
    assert "'automatic', 'automatic_async', 'manual'" in body["error"]["message"]


def test_a_value_of_the_wrong_type_is_refused(peer):
    status, _, body = raw(
        peer, "POST", "/v1/payment_intents", {"amount": "12.5", "currency": "usd"}
    )
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid_integer"
    assert body["error"]["message"] == "Invalid integer: 12.5"


def test_a_missing_required_parameter_is_refused(peer):
    status, _, body = raw(peer, "POST", "/v1/payment_intents", {"amount": 2000})
    assert status == 400
    assert body["error"]["code"] == "parameter_missing"
    assert body["error"]["param"] == "currency"


def test_an_unknown_endpoint_answers_stripes_404(peer):
    status, _, body = raw(peer, "GET", "/v1/payment_intentz")
    assert status == 404
    assert body["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/payment_intentz)"
    )


def test_a_raw_card_number_from_the_server_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError, match="generally unsafe"):
        client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034},
            }
        )


# --- what the pinned version defines is accepted ----------------------------------------------


def test_the_current_parameters_are_accepted_and_shown(client):
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2_000,
            "currency": "usd",
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "description": "Order R-1",
            "receipt_email": "buyer@example.com",
            "payment_method": "pm_card_visa",
        }
    )
    assert intent.description == "Order R-1"
    assert intent.receipt_email == "buyer@example.com"
    assert intent.automatic_payment_methods.allow_redirects == "never"
    intent = client.v1.payment_intents.confirm(
        intent.id, params={"return_url": "https://portal.example/r/", "use_stripe_sdk": True}
    )
    assert intent.status == "succeeded"
    card_only = client.v1.setup_intents.create(params={"allowed_payment_method_types": ["card"]})
    assert card_only.payment_method_types == ["card"]


def test_a_payment_intent_is_shaped_as_at_the_pinned_version(client):
    intent = _paid_intent(client)
    shown = client.v1.payment_intents.retrieve(intent.id).to_dict()
    assert isinstance(shown["latest_charge"], str)  # an id unless expanded
    assert "charges" not in shown
    assert shown["payment_method_types"] == ["card"]
    expanded = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert expanded.latest_charge.id == shown["latest_charge"]
    charge = client.v1.charges.retrieve(shown["latest_charge"]).to_dict()
    assert "refunds" not in charge


def test_created_filters_a_list_newest_first(client):
    first = _paid_intent(client)
    time.sleep(1.05)
    second = _paid_intent(client)
    listed = client.v1.payment_intents.list(params={"created": {"gte": second.created}})
    assert [i.id for i in listed.data] == [second.id]
    both = client.v1.payment_intents.list(params={"created": {"lte": second.created}})
    assert [i.id for i in both.data] == [second.id, first.id]
    older = client.v1.payment_intents.list(params={"created": {"lt": second.created}})
    assert [i.id for i in older.data] == [first.id]
    page = client.v1.payment_intents.list(params={"limit": 1})
    assert page.has_more is True
    rest = client.v1.payment_intents.list(params={"limit": 1, "starting_after": page.data[0].id})
    assert [i.id for i in rest.data] == [first.id]


def test_a_refund_takes_stripes_reason(client):
    intent = _paid_intent(client)
    refund = client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 500, "reason": "requested_by_customer"}
    )
    assert (refund.status, refund.reason, refund.amount) == (
        "succeeded",
        "requested_by_customer",
        500,
    )
    assert refund.payment_intent == intent.id


# --- idempotency ------------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_answer(peer):
    params = {"amount": 2000, "currency": "usd"}
    headers = {"Idempotency-Key": "order-1"}
    first = raw(peer, "POST", "/v1/payment_intents", params, headers=headers)
    again = raw(peer, "POST", "/v1/payment_intents", params, headers=headers)
    assert first[0] == again[0] == 200
    assert again[2] == first[2]
    assert again[1].get("Idempotent-Replayed") == "true"
    listed = raw(peer, "GET", "/v1/payment_intents")[2]["data"]
    assert [i["id"] for i in listed] == [first[2]["id"]]


def test_a_declined_charge_is_replayed_not_charged_again(peer):
    params = {
        "amount": 2000,
        "currency": "usd",
        "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
        "confirm": "true",
    }
    headers = {"Idempotency-Key": "renewal-7"}
    first = raw(peer, "POST", "/v1/payment_intents", params, headers=headers)
    again = raw(peer, "POST", "/v1/payment_intents", params, headers=headers)
    assert first[0] == again[0] == 402
    assert again[2] == first[2]
    assert len(raw(peer, "GET", "/v1/charges")[2]["data"]) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(peer):
    headers = {"Idempotency-Key": "payment:1:create"}
    raw(peer, "POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd"}, headers=headers)
    status, _, body = raw(
        peer, "POST", "/v1/payment_intents", {"amount": 9000, "currency": "usd"}, headers=headers
    )
    assert status == 400
    assert body["error"]["type"] == "idempotency_error"
    assert body["error"]["message"] == (
        "Keys for idempotent requests can only be used with the same parameters they were first "
        "used with. Try using a key other than 'payment:1:create' if you meant to execute a "
        "different request."
    )


def test_a_refused_request_is_not_saved_under_its_key(peer):
    headers = {"Idempotency-Key": "fix-and-retry"}
    refused = raw(
        peer, "POST", "/v1/payment_intents", {"amount": 10, "currency": "usd"}, headers=headers
    )
    assert refused[0] == 400
    fixed = raw(
        peer, "POST", "/v1/payment_intents", {"amount": 50, "currency": "usd"}, headers=headers
    )
    assert fixed[0] == 200


def test_an_idempotency_key_over_255_characters_is_refused(peer):
    headers = {"Idempotency-Key": "k" * 256}
    status, _, body = raw(peer, "POST", "/v1/customers", {}, headers=headers)
    assert status == 400
    assert "255 characters" in body["error"]["message"]


def test_keys_belong_to_one_api_key(peer):
    headers = {"Idempotency-Key": "shared"}
    raw(peer, "POST", "/v1/customers", {"email": "a@example.com"}, headers=headers)
    other = raw(
        peer,
        "POST",
        "/v1/customers",
        {"email": "b@example.com"},
        headers={**headers, "Authorization": "Bearer sk_test_another_account"},
    )
    assert other[0] == 200
    assert other[2]["email"] == "b@example.com"


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (49, "usd", "Amount must be at least $0.50 usd"),
        (49, "jpy", "Amount must be at least ¥50 jpy"),
        (29, "gbp", "Amount must be at least £0.30 gbp"),
    ],
)
def test_an_amount_under_stripes_minimum_is_refused(peer, amount, currency, message):
    status, _, body = raw(
        peer, "POST", "/v1/payment_intents", {"amount": amount, "currency": currency}
    )
    assert status == 400
    assert body["error"]["code"] == "amount_too_small"
    assert body["error"]["param"] == "amount"
    assert body["error"]["message"] == message


def test_a_zero_decimal_currency_counts_in_its_own_units(client):
    intent = _paid_intent(client, amount=50, currency="jpy")
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 50, "jpy")


def test_an_unknown_currency_is_refused(peer):
    status, _, body = raw(peer, "POST", "/v1/payment_intents", {"amount": 2000, "currency": "xyz"})
    assert status == 400
    assert body["error"]["param"] == "currency"
    assert body["error"]["message"].startswith("Invalid currency: xyz.")


def test_a_refund_above_what_is_left_is_refused(client):
    intent = _paid_intent(client, amount=2_000)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 999_999})
    assert refused.value.param == "amount"
    assert "greater than unrefunded amount on charge ($20.00)" in str(refused.value)
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1_500})
    with pytest.raises(stripe.InvalidRequestError, match=r"\(\$5\.00\)"):
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 501})
    client.v1.refunds.create(params={"payment_intent": intent.id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert again.value.code == "charge_already_refunded"


# --- test PaymentMethods and declines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "brand", "last4"),
    [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
        ("pm_card_amex", "amex", "0005"),
        ("pm_card_chargeDeclinedInsufficientFunds", "visa", "9995"),
        ("pm_card_authenticationRequired", "visa", "3184"),
    ],
)
def test_stripes_test_payment_methods_make_a_new_card_each_use(client, test_id, brand, last4):
    first = client.v1.payment_methods.retrieve(test_id)
    second = client.v1.payment_methods.retrieve(test_id)
    assert first.id != second.id
    assert first.id.startswith("pm_") and first.id != test_id
    assert (first.card.brand, first.card.last4) == (brand, last4)


DECLINES = [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
]


@pytest.mark.parametrize(("test_id", "code", "decline_code"), DECLINES)
def test_a_decline_card_is_declined_on_a_payment_intent_with_its_codes(
    client, test_id, code, decline_code
):
    with pytest.raises(stripe.CardError) as declined:
        _paid_intent(client, payment_method=test_id)
    error = declined.value.error
    assert (error.type, error.code, error.decline_code) == ("card_error", code, decline_code)
    assert declined.value.http_status == 402
    assert error.charge.startswith("ch_")
    intent = client.v1.payment_intents.retrieve(error.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.payment_method is None  # Stripe unsets it; the error names the card
    assert intent.last_payment_error.code == code
    assert intent.last_payment_error.decline_code == decline_code
    assert intent.last_payment_error.payment_method.card.last4 == error.payment_method.card.last4


@pytest.mark.parametrize(("test_id", "code", "decline_code"), DECLINES)
def test_a_decline_card_cannot_be_saved(client, test_id, code, decline_code):
    customer = _customer(client)
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_methods.attach(test_id, params={"customer": customer})
    assert (declined.value.error.code, declined.value.error.decline_code) == (code, decline_code)


def _saved_card(client, customer: str, test_id: str = "pm_card_visa", *, peer=None) -> str:
    setup = client.v1.setup_intents.create(
        params={"customer": customer, "allowed_payment_method_types": ["card"]}
    )
    setup = client.v1.setup_intents.confirm(setup.id, params={"payment_method": test_id})
    if setup.status == "requires_action":  # the buyer passes the bank's check in the browser
        status, _, body = raw(
            peer,
            "POST",
            f"/v1/setup_intents/{setup.id}/confirm",
            {"key": "pk_test_browser", "client_secret": setup.client_secret},
            headers={"Authorization": ""},
        )
        assert status == 200, body
        setup = client.v1.setup_intents.retrieve(setup.id)
    assert setup.status == "succeeded"
    card = client.v1.payment_methods.retrieve(setup.payment_method)
    assert card.customer == customer  # Stripe attaches what a SetupIntent set up
    return card.id


def _renewal(client, customer: str, card: str, key: str):
    return client.v1.payment_intents.create(
        params={
            "amount": 2_000,
            "currency": "usd",
            "customer": customer,
            "payment_method": card,
            "allowed_payment_method_types": ["card"],
            "confirm": True,
            "off_session": True,
        },
        options={"idempotency_key": key},
    )


def test_a_saved_card_that_starts_declining_declines_off_session_charges(peer, client):
    customer = _customer(client)
    card = _saved_card(client, customer)
    assert _renewal(client, customer, card, "r1").status == "succeeded"

    peer.decline_later(card, "insufficient_funds")
    with pytest.raises(stripe.CardError) as declined:
        _renewal(client, customer, card, "r2")
    assert declined.value.error.decline_code == "insufficient_funds"
    assert declined.value.error.payment_intent.last_payment_error.decline_code == (
        "insufficient_funds"
    )

    raw(peer, "DELETE", f"/_config/payment_methods/{card}/decline")
    assert _renewal(client, customer, card, "r3").status == "succeeded"


@pytest.mark.parametrize(("test_id", "code", "decline_code"), DECLINES)
def test_each_decline_code_reaches_an_off_session_charge_of_a_saved_card(
    peer, client, test_id, code, decline_code
):
    customer = _customer(client)
    card = _saved_card(client, customer)
    peer.decline_later(card, decline_code)
    with pytest.raises(stripe.CardError) as declined:
        _renewal(client, customer, card, f"renewal:{decline_code}")
    assert (declined.value.error.code, declined.value.error.decline_code) == (code, decline_code)


def test_a_card_saved_to_fail_declines_every_off_session_charge(client):
    customer = _customer(client)
    card = _saved_card(client, customer, "pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as declined:
        _renewal(client, customer, card, "r1")
    assert declined.value.error.decline_code == "generic_decline"


def test_three_d_secure_on_and_off_session(peer, client):
    customer = _customer(client)
    always = client.v1.payment_methods.attach(
        "pm_card_authenticationRequired", params={"customer": customer}
    )
    on_session = _paid_intent(client, payment_method=always.id)
    assert on_session.status == "requires_action"
    with pytest.raises(stripe.CardError) as declined:
        _renewal(client, customer, always.id, "off")
    assert declined.value.error.code == "authentication_required"
    set_up = _saved_card(client, customer, "pm_card_authenticationRequiredOnSetup", peer=peer)
    assert _renewal(client, customer, set_up, "set-up").status == "succeeded"


def test_a_new_card_can_be_confirmed_on_the_intent_a_decline_left(client):
    with pytest.raises(stripe.CardError) as declined:
        _paid_intent(client, payment_method="pm_card_chargeDeclined")
    intent = client.v1.payment_intents.confirm(
        declined.value.error.payment_intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert intent.status == "succeeded"


def test_a_confirm_in_the_wrong_state_is_refused_as_stripe_refuses_it(client):
    intent = _paid_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.confirm(intent.id)
    assert refused.value.code == "payment_intent_unexpected_state"


# --- events and webhook endpoints -------------------------------------------------------------


def test_events_carry_the_pinned_version_and_what_stripe_sends(peer, client, receiver):
    peer.register_webhook(name="portal", url=receiver.url + "/hook", secret="whsec_portal")
    intent = _paid_intent(client)
    succeeded = receiver.wait_for("payment_intent.succeeded")
    assert succeeded["api_version"] == PINNED
    assert isinstance(succeeded["data"]["object"]["latest_charge"], str)
    assert "charges" not in succeeded["data"]["object"]
    assert set(succeeded) >= {"pending_webhooks", "request", "livemode", "created"}

    client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 700},
        options={"idempotency_key": "refund-1"},
    )
    refunded = receiver.wait_for("charge.refunded")
    created = receiver.wait_for("refund.created")
    assert "refunds" not in refunded["data"]["object"]
    assert refunded["data"]["object"]["amount_refunded"] == 700
    assert created["data"]["object"]["amount"] == 700
    assert created["data"]["object"]["payment_intent"] == intent.id
    assert created["request"]["idempotency_key"] == "refund-1"


def test_a_decline_sends_payment_failed_with_its_codes(peer, client, receiver):
    peer.register_webhook(name="portal", url=receiver.url + "/hook", secret="whsec_portal")
    with pytest.raises(stripe.CardError):
        _paid_intent(client, payment_method="pm_card_chargeDeclinedStolenCard")
    failed = receiver.wait_for("payment_intent.payment_failed")["data"]["object"]
    assert failed["last_payment_error"]["decline_code"] == "stolen_card"
    assert failed["status"] == "requires_payment_method"


def test_a_refund_that_fails_later_sends_refund_failed(peer, client, receiver):
    peer.register_webhook(name="portal", url=receiver.url + "/hook", secret="whsec_portal")
    intent = _paid_intent(client, payment_method="pm_card_refundFail")
    refund = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.status == "succeeded"
    failed = receiver.wait_for("refund.failed")["data"]["object"]
    updated = receiver.wait_for("refund.updated")
    assert failed["id"] == refund.id and failed["status"] == "failed"
    assert updated["data"]["previous_attributes"] == {"status": "succeeded"}
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 0


def test_webhook_endpoints_get_only_their_events_signed_with_their_secret(client, receiver):
    payments = client.v1.webhook_endpoints.create(
        params={
            "url": receiver.url + "/payments",
            "enabled_events": ["payment_intent.succeeded"],
            "api_version": PINNED,
        }
    )
    refunds = client.v1.webhook_endpoints.create(
        params={
            "url": receiver.url + "/refunds",
            "enabled_events": ["refund.created"],
            "api_version": "2026-09-30.endive",
        }
    )
    assert payments.secret.startswith("whsec_") and payments.secret != refunds.secret
    assert "secret" not in client.v1.webhook_endpoints.retrieve(payments.id).to_dict()

    intent = _paid_intent(client)
    client.v1.refunds.create(params={"payment_intent": intent.id})
    receiver.wait_for("refund.created", path="/refunds")
    receiver.wait_for("payment_intent.succeeded", path="/payments")
    time.sleep(0.3)
    assert {e["type"] for e in receiver.events("/payments")} == {"payment_intent.succeeded"}
    assert {e["type"] for e in receiver.events("/refunds")} == {"refund.created"}
    assert receiver.events("/refunds")[0]["api_version"] == "2026-09-30.endive"
    for path, headers, body in receiver.deliveries:
        secret = payments.secret if path == "/payments" else refunds.secret
        stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], secret)


def test_a_webhook_endpoint_can_be_listed_updated_disabled_and_deleted(client, receiver):
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url + "/hook", "enabled_events": ["refund.created"]}
    )
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
    updated = client.v1.webhook_endpoints.update(
        endpoint.id, params={"enabled_events": ["*"], "disabled": True}
    )
    assert (updated.enabled_events, updated.status) == (["*"], "disabled")
    _paid_intent(client)
    time.sleep(0.3)
    assert receiver.deliveries == []
    client.v1.webhook_endpoints.delete(endpoint.id)
    assert client.v1.webhook_endpoints.list().data == []


def test_the_browser_stand_in_is_not_judged(peer):
    # localstripe's Stripe.js posts with the publishable key; its requests are the browser's.
    intent = raw(peer, "POST", "/v1/setup_intents", {})[2]
    status, _, body = raw(
        peer,
        "POST",
        f"/v1/setup_intents/{intent['id']}/confirm",
        {
            "key": "pk_test_browser",
            "client_secret": intent["client_secret"],
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4242424242424242",
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "34",
            "payment_method_data[card][cvc]": "123",
        },
        headers={"Authorization": ""},
    )
    assert status == 200, body
    assert body["status"] == "succeeded"
