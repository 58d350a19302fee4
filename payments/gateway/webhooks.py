"""Stripe's news: webhook signatures, the account's webhook endpoints, and the Events API."""

from __future__ import annotations

import time
from typing import Any

import stripe
from django.conf import settings

from payments.gateway.connection import client, request_options, stripe_errors_translated
from payments.gateway.objects import (
    InvalidWebhook,
    MalformedWebhook,
    WebhookEndpointResult,
    WebhookPayload,
    _webhook_endpoint_result,
    webhook_payload_parse,
)


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
