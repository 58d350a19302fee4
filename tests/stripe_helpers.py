"""Sign Stripe-shaped events exactly as Stripe does, for the event types localstripe never sends."""

import hashlib
import hmac
import json
import time
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
