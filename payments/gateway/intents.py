"""PaymentIntents: create, confirm, capture, cancel, and read them back."""

from __future__ import annotations

from typing import Any

from payments.gateway.connection import client, request_options, stripe_errors_translated
from payments.gateway.objects import PaymentIntentResult, _payment_intent_result


@stripe_errors_translated
def payment_intent_create(
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
    customer: str = "",
    payment_method: str = "",
    confirm: bool = False,
    off_session: bool = False,
    capture_method: str = "automatic",
) -> PaymentIntentResult:
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency.lower(),
        "metadata": metadata,
        "capture_method": capture_method,
        # Cards only, chosen here rather than by the Dashboard's payment method settings: the
        # card is saved by a SetupIntent first and charged again off-session, which only a card
        # can do in this flow (`payment_method_types` is gone since 2026-09-30.endive).
        "allowed_payment_method_types": ["card"],
        "expand": ["latest_charge"],
    }
    if customer:
        params["customer"] = customer
    if payment_method:
        params["payment_method"] = payment_method
    if confirm:
        params["confirm"] = True
    if off_session:
        params["off_session"] = True
    pi = client().v1.payment_intents.create(params=params, options=request_options(idempotency_key))
    return _payment_intent_result(pi)


@stripe_errors_translated
def payment_intent_retrieve(payment_intent_id: str) -> PaymentIntentResult:
    pi = client().v1.payment_intents.retrieve(
        payment_intent_id, params={"expand": ["latest_charge"]}, options=request_options()
    )
    return _payment_intent_result(pi)


@stripe_errors_translated
def payment_intent_confirm(
    payment_intent_id: str, *, idempotency_key: str, return_url: str = ""
) -> PaymentIntentResult:
    """Confirm with the payment method set at creation.

    An on-session confirm passes `return_url`, where the buyer lands after an authentication
    that redirects to the bank, and `use_stripe_sdk`, so that Stripe.js can run the check in
    the page when it can. An off-session one passes neither.
    """
    params: dict[str, Any] = {"expand": ["latest_charge"]}
    if return_url:
        params["return_url"] = return_url
        params["use_stripe_sdk"] = True
    pi = client().v1.payment_intents.confirm(
        payment_intent_id,
        params=params,
        options=request_options(idempotency_key),
    )
    return _payment_intent_result(pi)


@stripe_errors_translated
def payment_intent_capture(
    payment_intent_id: str, *, idempotency_key: str, amount_to_capture: int | None = None
) -> PaymentIntentResult:
    params: dict[str, Any] = {"expand": ["latest_charge"]}
    if amount_to_capture is not None:
        params["amount_to_capture"] = amount_to_capture
    pi = client().v1.payment_intents.capture(
        payment_intent_id, params=params, options=request_options(idempotency_key)
    )
    return _payment_intent_result(pi)


@stripe_errors_translated
def payment_intent_cancel(payment_intent_id: str, *, idempotency_key: str) -> PaymentIntentResult:
    pi = client().v1.payment_intents.cancel(
        payment_intent_id, options=request_options(idempotency_key)
    )
    return _payment_intent_result(pi)


@stripe_errors_translated
def payment_intents_recent(*, created_gte: int, limit: int = 100) -> list[PaymentIntentResult]:
    """Intents created since `created_gte`, newest first, for finding one whose creation timed
    out. Stripe filters by time; the caller matches the `metadata` (the Search API is
    eventually consistent, so it could miss an intent made a moment ago)."""
    page = client().v1.payment_intents.list(
        params={
            "limit": limit,
            "created": {"gte": created_gte},
            "expand": ["data.latest_charge"],
        },
        options=request_options(),
    )
    results = []
    for pi in page.auto_paging_iter():
        results.append(_payment_intent_result(pi))
        if len(results) >= limit * 5:
            break
    return results
