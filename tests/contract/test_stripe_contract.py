"""Every request the gateway sent during the session is valid for the pinned API version, as
stripe-python's own parameter types define it (devtools/stripe_contract.py).

This test runs after every other one (tests/contract/plugin.py) and judges everything the
session's Stripe peer recorded. It first makes one pass through the gateway's calls itself, so
it judges something when run alone. Bumping `stripe` in the lock changes the types it judges by:
each problem then names the endpoint, the parameter, what was sent and what the types allow.
"""

from __future__ import annotations

from collections import Counter

import pytest

from devtools import stripe_contract
from payments import gateway
from tests.contract.plugin import JUDGED, stripe_requests

RUN_LAST = True


def _gateway_pass() -> None:
    customer = gateway.customer_create(
        email="contract@example.com", name="Contract", metadata={}, idempotency_key="contract:c"
    )
    gateway.setup_intent_create(customer=customer, idempotency_key="contract:si", metadata={})
    intent = gateway.payment_intent_create(
        amount=1_500,
        currency="eur",
        customer=customer,
        payment_method="pm_card_visa",
        metadata={"payment_id": "contract"},
        idempotency_key="contract:pi",
    )
    intent = gateway.payment_intent_confirm(
        intent.id, idempotency_key="contract:confirm", return_url="https://portal.example/return/"
    )
    gateway.payment_intent_retrieve(intent.id)
    gateway.refund_create(
        payment_intent_id=intent.id,
        amount=500,
        reason="requested_by_customer",
        metadata={"reason": "contract test"},
        idempotency_key="contract:refund",
    )
    gateway.payment_intents_recent(created_gte=intent.raw["created"] - 60)
    gateway.events_list(created_gte=intent.raw["created"] - 60, created_lte=intent.raw["created"])


@pytest.mark.django_db(transaction=True)
def test_every_request_the_gateway_sent_is_valid_for_the_pinned_api_version(
    localstripe, stripe_requests_log, request
):
    # A request the types refuse is refused by the peer too: the pass stops there, and the
    # judgement below says why.
    try:
        _gateway_pass()
    except gateway.GatewayError as exc:
        refused = exc
    else:
        refused = None
    records = stripe_requests(stripe_requests_log)
    problems: Counter[str] = Counter()
    endpoints = set()
    for record in records:
        endpoint = stripe_contract.endpoint_for(record["method"], record["path"])
        endpoints.add(endpoint.name if endpoint else record["path"])
        for problem in stripe_contract.request_problems(
            method=record["method"],
            path=record["path"],
            query=record["query"],
            body=record["body"],
            stripe_version=record["stripe_version"],
        ):
            problems[str(problem)] += 1
    request.config.stash[JUDGED] = (
        f"Stripe contract: {len(records)} requests to {len(endpoints)} endpoints judged by "
        f"stripe-python {stripe_contract.SDK_VERSION} ({stripe_contract.API_VERSION}), "
        f"{sum(problems.values())} problems"
    )
    report = "\n".join(f"- {text} ({count} requests)" for text, count in problems.most_common())
    assert not problems, (
        f"{sum(problems.values())} problems in {len(records)} requests to {len(endpoints)} "
        f"endpoints, judged by stripe-python {stripe_contract.SDK_VERSION} "
        f"({stripe_contract.API_VERSION}):\n{report}"
    )
    assert refused is None, f"the Stripe peer refused a request the types allow: {refused}"
    assert len(records) >= 8, f"the peer recorded {len(records)} requests, not the gateway's"
