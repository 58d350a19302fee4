"""Sign Stripe-shaped events exactly as Stripe does, for the event types the Stripe peer never
sends, and read objects from the peer as Stripe shows them."""

import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
import uuid
from copy import deepcopy
from pathlib import Path

# A copy of shared/stripe-fixtures/objects.json (Stripe's OpenAPI fixtures, taken 2026-11-22).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe_objects.json"


def stripe_object(kind: str, **overrides) -> dict:
    """An object with the real shape, from Stripe's published OpenAPI fixtures."""
    objects = json.loads(FIXTURES.read_text())
    obj = deepcopy(objects[kind])
    obj.update(overrides)
    return obj


def stripe_event(
    event_type: str, data_object: dict, *, event_id: str = "", created: int = 0
) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}"


def deliver_event(client, event: dict, secret: str):
    """POST `event` to the real webhook endpoint, signed with `secret` as Stripe signs it."""
    body = json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": sign(body, secret)},
    )


def object_at_stripe(localstripe, kind: str, object_id: str) -> dict:
    """An object as the Stripe peer shows it now, e.g. ("refunds", "re_...")."""
    request = urllib.request.Request(
        f"{localstripe.api_base}/v1/{kind}/{object_id}",
        headers={"Authorization": "Bearer sk_test_portal_tests"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def intent_at_localstripe(localstripe, intent_id: str) -> dict:
    """The intent as Stripe shows it now (the object an event about it carries)."""
    return object_at_stripe(localstripe, "payment_intents", intent_id)


def pass_3ds(localstripe, intent_id: str, client_secret: str, *, success: bool = True) -> None:
    """The buyer passes (or fails) the bank's check: what localstripe's stripe.js posts from its
    modal, and what the bank's page does before it sends the buyer to the return_url."""
    data = urllib.parse.urlencode(
        {
            "client_secret": client_secret,
            "success": "true" if success else "false",
            "key": "pk_test_portal_tests",
        }
    ).encode()
    url = f"{localstripe.api_base}/v1/payment_intents/{intent_id}/_authenticate"
    urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10)
