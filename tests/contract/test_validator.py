"""The judge of requests (devtools/stripe_contract.py), on requests as sent on the wire."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from stripe.params._payment_intent_create_params import PaymentIntentCreateParams

from devtools import stripe_contract
from devtools.stripe_contract import form_decode, request_problems

GOOD_CREATE = urlencode(
    {
        "amount": "2000",
        "currency": "usd",
        "capture_method": "manual",
        "allowed_payment_method_types[0]": "card",
        "metadata[order_id]": "42",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "confirm": "true",
        "off_session": "true",
        "expand[0]": "latest_charge",
        "payment_method_options[card][request_three_d_secure]": "automatic",
    }
)


def _problems(method: str, path: str, **params: str) -> list[stripe_contract.Problem]:
    encoded = urlencode(params)
    if method == "GET":
        return request_problems(method=method, path=path, query=encoded)
    return request_problems(method=method, path=path, body=encoded)


def test_the_endpoints_and_their_params_come_from_the_installed_sdk():
    endpoint = stripe_contract.endpoint_for("POST", "/v1/payment_intents")
    assert endpoint.params_class is PaymentIntentCreateParams
    assert endpoint.operation == "PaymentIntentService.create"
    confirm = stripe_contract.endpoint_for("POST", "/v1/payment_intents/pi_123/confirm")
    assert confirm.path == "/v1/payment_intents/{intent}/confirm"
    # A literal segment wins over a placeholder.
    assert stripe_contract.endpoint_for("GET", "/v1/payment_intents/search").path == (
        "/v1/payment_intents/search"
    )
    assert len(stripe_contract.endpoints()) > 400


def test_a_known_good_request_passes():
    assert (
        request_problems(
            method="POST",
            path="/v1/payment_intents",
            body=GOOD_CREATE,
            stripe_version=stripe_contract.API_VERSION,
        )
        == []
    )
    assert (
        _problems("GET", "/v1/payment_intents", **{"created[gte]": "1700000000", "limit": "100"})
        == []
    )
    assert _problems("POST", "/v1/refunds", payment_intent="pi_1", reason="duplicate") == []


def test_payment_method_types_on_an_intent_create_fails_with_a_precise_message():
    (problem,) = request_problems(
        method="POST",
        path="/v1/payment_intents",
        body=urlencode({"amount": "2000", "currency": "usd", "payment_method_types[0]": "card"}),
    )
    assert (problem.kind, problem.param, problem.sent) == (
        "unknown",
        "payment_method_types",
        "['card']",
    )
    assert str(problem) == (
        "POST /v1/payment_intents: `payment_method_types` is not a parameter of "
        "PaymentIntentCreateParams in stripe-python 16.1.0 (2026-10-28.endive); sent ['card']. "
        "Parameters it defines that look alike: allowed_payment_method_types, payment_method, "
        "payment_method_data."
    )


def test_a_wrong_enum_value_fails():
    (problem,) = _problems(
        "POST", "/v1/payment_intents", amount="2000", currency="usd", capture_method="later"
    )
    assert (problem.kind, problem.param, problem.sent) == ("enum", "capture_method", "'later'")
    assert problem.allowed == "one of 'automatic', 'automatic_async', 'manual'"


def test_an_open_enum_is_judged_by_the_values_it_names():
    # The SDK writes `Literal['duplicate', 'fraudulent', 'requested_by_customer'] | str`.
    (problem,) = _problems("POST", "/v1/refunds", payment_intent="pi_1", reason="customer asked")
    assert (problem.kind, problem.param) == ("enum", "reason")
    # `Literal[''] | str` unsets with an empty string and is otherwise free.
    assert _problems("POST", "/v1/webhook_endpoints/we_1", description="") == []
    assert _problems("POST", "/v1/webhook_endpoints/we_1", description="anything") == []


def test_a_wrong_type_fails():
    (problem,) = _problems("POST", "/v1/payment_intents", amount="12.5", currency="usd")
    assert (problem.kind, problem.param, problem.expected) == ("type", "amount", "integer")
    assert str(problem).endswith(
        "sent '12.5'; PaymentIntentCreateParams in stripe-python "
        "16.1.0 (2026-10-28.endive) allows an integer"
    )
    (flag,) = _problems("POST", "/v1/payment_intents", amount="2000", currency="usd", confirm="yes")
    assert (flag.param, flag.expected) == ("confirm", "boolean")
    (hash_of_strings,) = _problems("POST", "/v1/customers", **{"metadata[order][id]": "1"})
    assert (hash_of_strings.kind, hash_of_strings.param) == ("type", "metadata[order]")


def test_a_nested_unknown_parameter_is_named_by_its_path():
    (problem,) = _problems(
        "POST",
        "/v1/payment_intents",
        amount="2000",
        currency="usd",
        **{"payment_method_options[card][colour]": "red"},
    )
    assert (problem.kind, problem.param) == ("unknown", "payment_method_options[card][colour]")


def test_a_missing_required_parameter_fails():
    (problem,) = _problems("POST", "/v1/payment_intents", amount="2000")
    assert (problem.kind, problem.param) == ("missing", "currency")


def test_an_endpoint_no_service_calls_fails():
    (problem,) = _problems("POST", "/v1/payment_intents/pi_1/teleport")
    assert problem.kind == "endpoint"


def test_a_stripe_version_the_sdk_does_not_describe_fails():
    problems = request_problems(
        method="GET", path="/v1/payment_intents/pi_1", stripe_version="2025-01-27.acacia"
    )
    assert [(p.kind, p.sent, p.allowed) for p in problems] == [
        ("version", "2025-01-27.acacia", "2026-10-28.endive")
    ]


def test_stripes_form_encoding_is_decoded_into_a_tree():
    assert form_decode("a[b][0]=c&a[b][1]=d&e=&f[g]=h%20i") == {
        "a": {"b": {"0": "c", "1": "d"}},
        "e": "",
        "f": {"g": "h i"},
    }
    assert stripe_contract.as_lists(form_decode("expand[0]=x&expand[1]=y")) == {
        "expand": ["x", "y"]
    }
    with pytest.raises(stripe_contract.FormConflict):
        form_decode("a=1&a[b]=2")
