"""The only module that talks to Stripe.

It pins the API version, sends deterministic idempotency keys built from our own rows, sends only
the parameters the pinned version defines (the contract test checks every request against
stripe-python's types, DESIGN.md §2), maps StripeError to our own exceptions (one decorator,
`stripe_errors_translated`) and returns our own dataclasses, so no Stripe object leaks into the
rest of the code. What Stripe's answers become (our exceptions and dataclasses, read from
Stripe's JSON) is `payments/gateway_objects.py`, and what every call carries (the request's
time budget, this installation's id, the request options) is `payments/gateway_budget.py`;
neither imports `stripe`.

In order: the connection (the client, the time budget, idempotency keys, error translation),
customers and their cards, PaymentIntents, SetupIntents, refunds, and Stripe's news (webhook
signatures, the account's endpoints, the Events API). Callers import the module:
`from payments import gateway`, `gateway.payment_intent_create(...)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, ParamSpec, TypeVar

import stripe
from django.conf import settings

from payments.gateway_budget import budget_left, call_budget, installation_id, request_options
from payments.gateway_objects import (
    CardDeclined,
    CardDetails,
    GatewayError,
    GatewayUnavailable,
    InvalidWebhook,
    MalformedWebhook,
    PaymentIntentResult,
    RefundResult,
    SetupIntentResult,
    WebhookEndpointResult,
    WebhookPayload,
    _id_of,
    _payment_intent_result,
    _setup_intent_result,
    _webhook_endpoint_result,
    payment_intent_from_object,
    webhook_payload_from_event,
    webhook_payload_parse,
)

# Our own exceptions and dataclasses, re-exported: callers know only `payments.gateway`.
__all__ = [
    "CardDeclined",
    "CardDetails",
    "GatewayError",
    "GatewayUnavailable",
    "InvalidWebhook",
    "MalformedWebhook",
    "PaymentIntentResult",
    "RefundResult",
    "SetupIntentResult",
    "WebhookEndpointResult",
    "WebhookPayload",
    "call_budget",
    "installation_id",
    "payment_intent_from_object",
    "request_options",
    "webhook_payload_from_event",
    "webhook_payload_parse",
]


# --- The connection to Stripe and what every call shares: the client with the pinned API version

P = ParamSpec("P")
R = TypeVar("R")


@lru_cache(maxsize=16)
def _client(
    api_key: str, api_base: str, api_version: str, timeout: tuple[float, float]
) -> stripe.StripeClient:
    options: dict[str, Any] = {
        "stripe_version": api_version,
        "max_network_retries": 0,  # per call, in request_options
        "http_client": stripe.RequestsClient(timeout=timeout),
    }
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **options)


def client() -> stripe.StripeClient:
    connect = settings.STRIPE_CONNECT_TIMEOUT_SECONDS
    read = settings.STRIPE_TIMEOUT_SECONDS
    left = budget_left()
    if left is not None:
        if left < 1:
            raise GatewayUnavailable("no time left to reach Stripe in this request")
        # Whole seconds, so a handful of clients serve every budget.
        connect = min(connect, int(left))
        read = max(1, min(read, int(left - connect)))
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_API_VERSION,
        (connect, read),
    )


def stripe_errors_translated(call: Callable[P, R]) -> Callable[P, R]:
    """Every call to Stripe raises our own exceptions, never the SDK's (`_translate`)."""

    @wraps(call)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    return translated


def _translate(exc: stripe.StripeError) -> GatewayError:
    if isinstance(exc, stripe.CardError):
        error = getattr(exc, "error", None)
        return CardDeclined(
            exc.user_message or str(exc),
            code=getattr(error, "code", "") or exc.code or "card_declined",
            decline_code=getattr(error, "decline_code", "") or "",
            http_status=exc.http_status,
        )
    # APIError is a 5xx, or a status Stripe does not document: Stripe may have acted on it.
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return GatewayUnavailable(
            str(exc) or "Stripe could not be reached",
            code=exc.code or "",
            http_status=exc.http_status,
        )
    return GatewayError(str(exc), code=exc.code or "", http_status=exc.http_status)


# --- Customers and their saved cards (payment methods).


@stripe_errors_translated
def customer_create(
    *, email: str, name: str, metadata: dict[str, str], idempotency_key: str
) -> str:
    customer = client().v1.customers.create(
        params={"email": email, "name": name, "metadata": metadata},
        options=request_options(idempotency_key),
    )
    return customer.id


@stripe_errors_translated
def payment_method_card(payment_method_id: str) -> CardDetails:
    pm = client().v1.payment_methods.retrieve(payment_method_id, options=request_options())
    card = (pm.to_dict().get("card")) or {}
    return CardDetails(
        payment_method=pm.id,
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


@stripe_errors_translated
def payment_method_attach(payment_method_id: str, *, customer: str, idempotency_key: str) -> None:
    """Attach a card to a customer; already attached to it (its SetupIntent did) is fine."""
    try:
        client().v1.payment_methods.attach(
            payment_method_id,
            params={"customer": customer},
            options=request_options(idempotency_key),
        )
    except stripe.InvalidRequestError as exc:
        # Already attached is fine only when it is to this customer: a card of another
        # customer is never taken over (D4).
        if (
            "already" not in str(exc).lower()
            or payment_method_customer(payment_method_id) != customer
        ):
            raise


@stripe_errors_translated
def payment_method_customer(payment_method_id: str) -> str:
    """The customer a card is attached to, or ""."""
    pm = client().v1.payment_methods.retrieve(payment_method_id, options=request_options())
    return _id_of(pm.to_dict().get("customer"))


# --- PaymentIntents: create, confirm, capture, cancel, and read them back.


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


# --- SetupIntents: save a card for later (and off-session) charges, `confirmCardSetup` in the page.


@stripe_errors_translated
def setup_intent_create(
    *, customer: str, idempotency_key: str, metadata: dict[str, str]
) -> SetupIntentResult:
    si = client().v1.setup_intents.create(
        params={
            "customer": customer,
            "allowed_payment_method_types": ["card"],
            "usage": "off_session",
            "metadata": metadata,
        },
        options=request_options(idempotency_key),
    )
    return _setup_intent_result(si)


@stripe_errors_translated
def setup_intent_retrieve(setup_intent_id: str) -> SetupIntentResult:
    si = client().v1.setup_intents.retrieve(setup_intent_id, options=request_options())
    return _setup_intent_result(si)


# --- Refunds.


@stripe_errors_translated
def refund_create(
    *,
    payment_intent_id: str,
    amount: int,
    idempotency_key: str,
    metadata: dict[str, str],
    reason: str = "",
) -> RefundResult:
    """Refund part or all of a payment. `reason` is Stripe's enum (`requested_by_customer`,
    `duplicate`, `fraudulent`); our own words go in `metadata` and our Refund row."""
    params: dict[str, Any] = {
        "payment_intent": payment_intent_id,
        "amount": amount,
        "metadata": metadata,
    }
    if reason:
        params["reason"] = reason
    refund = client().v1.refunds.create(params=params, options=request_options(idempotency_key))
    data = refund.to_dict()
    return RefundResult(
        id=data["id"],
        status=data.get("status") or "succeeded",
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        payment_intent=_id_of(data.get("payment_intent")),
    )


# --- Stripe's news: webhook signatures, the account's webhook endpoints, and the Events API.


def webhook_signature_verify(*, payload: bytes, signature_header: str) -> None:
    """Check a Stripe-Signature header against the exact bytes received.

    The SDK rejects timestamps older than the tolerance but accepts any future one, so we bound
    the future side too (notes/reliability.md §1.1).
    """
    if not signature_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"signature: {exc.user_message or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("body is not UTF-8") from exc
    timestamp = _signature_timestamp(signature_header)
    if timestamp > time.time() + tolerance:
        raise InvalidWebhook("signature timestamp is in the future")


def webhook_payload_verify(*, payload: bytes, signature_header: str) -> WebhookPayload:
    """Verify and parse in one step; a malformed body is refused like a bad signature."""
    webhook_signature_verify(payload=payload, signature_header=signature_header)
    try:
        return webhook_payload_parse(payload)
    except MalformedWebhook as exc:
        raise InvalidWebhook(str(exc)) from exc


def _signature_timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise InvalidWebhook("signature has no timestamp")


@stripe_errors_translated
def events_list(*, created_gte: int, created_lte: int) -> list[dict[str, Any]]:
    """Events from the Events API in a time range (Stripe keeps 30 days), oldest first."""
    page = client().v1.events.list(
        params={"limit": 100, "created": {"gte": created_gte, "lte": created_lte}},
        options=request_options(),
    )
    events = [e.to_dict() for e in page.auto_paging_iter()]
    return sorted(events, key=lambda e: (e.get("created") or 0, e.get("id")))


@stripe_errors_translated
def webhook_endpoints_list() -> list[WebhookEndpointResult]:
    """Every webhook endpoint of the account."""
    page = client().v1.webhook_endpoints.list(params={"limit": 100})
    return [_webhook_endpoint_result(e) for e in page.auto_paging_iter()]


@stripe_errors_translated
def webhook_endpoint_create(
    *, url: str, enabled_events: list[str], api_version: str, description: str = ""
) -> WebhookEndpointResult:
    """A new endpoint, with its signing secret (shown this once). No idempotency key of ours:
    the caller looks for an existing endpoint first, and the SDK keys its own retry."""
    params: dict[str, Any] = {
        "url": url,
        "enabled_events": list(enabled_events),
        "api_version": api_version,
    }
    if description:
        params["description"] = description
    endpoint = client().v1.webhook_endpoints.create(params=params)
    return _webhook_endpoint_result(endpoint)


@stripe_errors_translated
def webhook_endpoint_update(
    endpoint_id: str, *, enabled_events: list[str], disabled: bool = False
) -> WebhookEndpointResult:
    """Change what an endpoint receives. Stripe cannot change an endpoint's API version: a new
    version needs a new endpoint."""
    endpoint = client().v1.webhook_endpoints.update(
        endpoint_id,
        params={"enabled_events": list(enabled_events), "disabled": disabled},
    )
    return _webhook_endpoint_result(endpoint)
