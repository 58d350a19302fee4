"""What Stripe's answers become in our code: the gateway's own exceptions and dataclasses, read
from Stripe's JSON (an SDK object's `to_dict()`, or an event's `data.object`).

Nothing here imports `stripe`: payments/gateway.py is the one module that talks to Stripe, and
re-exports all of this, so callers write `gateway.PaymentIntentResult`, `gateway.CardDeclined`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class GatewayError(Exception):
    """Stripe refused the request or could not be reached."""

    def __init__(self, message: str, *, code: str = "", decline_code: str = "", http_status=None):
        super().__init__(message)
        self.code = code
        self.decline_code = decline_code
        self.http_status = http_status


class CardDeclined(GatewayError):
    """The card was declined; `decline_code` says why when Stripe tells us."""


class GatewayUnavailable(GatewayError):
    """No answer we can act on: a timeout, a network error, a Stripe server error (5xx) or a
    rate limit (429). The request may or may not have taken effect, so it is never a decline:
    the caller records the outcome as unknown and asks Stripe again later (retrieve, or the
    same idempotency key)."""


class InvalidWebhook(Exception):
    """A webhook whose signature or timestamp we refuse: it may not come from Stripe."""


class MalformedWebhook(Exception):
    """A validly signed body that is not a Stripe event we can process (kept as a dead letter)."""


@dataclass(frozen=True)
class PaymentIntentResult:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str
    payment_method: str
    customer: str
    capture_method: str
    metadata: dict[str, str]
    last_error_code: str = ""
    last_error_decline_code: str = ""
    last_error_message: str = ""
    charge_id: str = ""
    amount_refunded: int = 0
    # Whether the charge has been disputed (known only when the charge came expanded).
    charge_disputed: bool = False
    # What Stripe took: less than `amount` after a partial capture. None when not given.
    amount_received: int | None = None
    risk_level: str = ""
    risk_score: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class WebhookPayload:
    id: str
    type: str
    created: int
    api_version: str
    livemode: bool
    data_object: dict[str, Any]
    raw: dict[str, Any]


def _payment_intent_result(pi: Any) -> PaymentIntentResult:
    data = pi.to_dict() if hasattr(pi, "to_dict") else dict(pi)
    error = data.get("last_payment_error") or {}
    charge = data.get("latest_charge") or {}
    # Radar's verdict is known only when the charge came expanded. An event's payload carries
    # the charge as an id: the risk is then "" (unknown) and the caller must retrieve the intent.
    # An expanded charge without a verdict was not assessed, which is a verdict too.
    expanded = isinstance(charge, dict) and bool(charge)
    if isinstance(charge, str):
        charge = {"id": charge}
    outcome = charge.get("outcome") or {}
    risk_level = outcome.get("risk_level") or ("not_assessed" if expanded else "")
    return PaymentIntentResult(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        client_secret=data.get("client_secret") or "",
        payment_method=_id_of(data.get("payment_method")),
        customer=_id_of(data.get("customer")),
        capture_method=data.get("capture_method") or "",
        metadata=dict(data.get("metadata") or {}),
        last_error_code=error.get("code") or "",
        last_error_decline_code=error.get("decline_code") or "",
        last_error_message=error.get("message") or "",
        charge_id=charge.get("id") or "",
        amount_refunded=int(charge.get("amount_refunded") or 0),
        charge_disputed=charge.get("disputed") is True,
        amount_received=(
            int(data["amount_received"]) if data.get("amount_received") is not None else None
        ),
        risk_level=risk_level,
        risk_score=outcome.get("risk_score"),
        raw=data,
    )


def _id_of(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("id", "")
    return value or ""


def webhook_payload_parse(body: bytes) -> WebhookPayload:
    """Read a verified body as a Stripe event. Raises MalformedWebhook saying what is wrong."""
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise MalformedWebhook("body is not JSON") from exc
    return webhook_payload_from_event(event)


@dataclass(frozen=True)
class SetupIntentResult:
    id: str
    status: str
    client_secret: str
    customer: str
    payment_method: str
    last_error_code: str = ""
    last_error_message: str = ""


@dataclass(frozen=True)
class CardDetails:
    payment_method: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str
    amount: int
    currency: str
    payment_intent: str


def _setup_intent_result(si: Any) -> SetupIntentResult:
    data = si.to_dict()
    error = data.get("last_setup_error") or {}
    return SetupIntentResult(
        id=data["id"],
        status=data["status"],
        client_secret=data.get("client_secret") or "",
        customer=_id_of(data.get("customer")),
        payment_method=_id_of(data.get("payment_method")),
        last_error_code=error.get("code") or "",
        last_error_message=error.get("message") or "",
    )


def payment_intent_from_object(data: dict[str, Any]) -> PaymentIntentResult:
    """Read a PaymentIntent as delivered inside an event (a snapshot from when it was sent)."""
    return _payment_intent_result(data)


def webhook_payload_from_event(event: Any) -> WebhookPayload:
    """An event as our own: from a verified delivery, or from the Events API (authenticated).

    Only the envelope is checked here (what the inbox and the dispatch need); handlers read the
    object. Raises MalformedWebhook when the envelope is not a Stripe event's.
    """
    if not isinstance(event, dict):
        raise MalformedWebhook("body is not a JSON object")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise MalformedWebhook("event has no id")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise MalformedWebhook("event has no type")
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        raise MalformedWebhook(f"event created is not a Unix time: {created!r:.40}")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedWebhook("event data.object is not an object")
    api_version = event.get("api_version")
    if api_version is not None and not isinstance(api_version, str):
        raise MalformedWebhook("event api_version is not a string")
    return WebhookPayload(
        id=event["id"][:255],
        type=event["type"][:100],
        created=created,
        api_version=(api_version or "")[:40],
        livemode=event.get("livemode") is True,
        data_object=data["object"],
        raw=event,
    )


@dataclass(frozen=True)
class WebhookEndpointResult:
    id: str
    url: str
    api_version: str  # "" when the endpoint follows the account's default version
    enabled_events: tuple[str, ...]
    status: str
    # Stripe shows the signing secret only in the answer to the create.
    secret: str = ""


def _webhook_endpoint_result(endpoint: Any) -> WebhookEndpointResult:
    data = endpoint.to_dict()
    return WebhookEndpointResult(
        id=data["id"],
        url=data.get("url") or "",
        api_version=data.get("api_version") or "",
        enabled_events=tuple(data.get("enabled_events") or ()),
        status=data.get("status") or "",
        secret=data.get("secret") or "",
    )
