"""Rows for payments tests. Statuses set here are starting points, not transitions under test."""

from __future__ import annotations

import itertools
import json
import uuid

from payments.models import Customer, Payment
from tests.stripe_helpers import sign, stripe_event, stripe_object

_seq = itertools.count(1)


def payment_create(**overrides) -> Payment:
    n = next(_seq)
    values = {
        "idempotency_key": f"test:{uuid.uuid4().hex}",
        "stripe_payment_intent_id": f"pi_test{uuid.uuid4().hex[:20]}",
        "amount": 12_500,
        "currency": "eur",
        "status": Payment.Status.PROCESSING,
        "metadata": {"n": str(n)},
    }
    values.update(overrides)
    return Payment.objects.create(**values)


def customer_create(**overrides) -> Customer:
    values = {
        "email": f"buyer{next(_seq)}@example.com",
        "stripe_customer_id": f"cus_test{uuid.uuid4().hex[:14]}",
    }
    values.update(overrides)
    return Customer.objects.create(**values)


def intent_event(
    payment: Payment, event_type: str, *, created: int = 0, event_id: str = "", **fields
) -> dict:
    """A payment_intent.* event for `payment`, shaped like Stripe's."""
    status = {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.payment_failed": "requires_payment_method",
        "payment_intent.processing": "processing",
        "payment_intent.requires_action": "requires_action",
        "payment_intent.canceled": "canceled",
        "payment_intent.amount_capturable_updated": "requires_capture",
    }[event_type]
    obj = stripe_object(
        "payment_intent",
        id=payment.stripe_payment_intent_id,
        amount=payment.amount,
        currency=payment.currency,
        status=status,
        metadata={"payment_id": str(payment.pk)},
        last_payment_error=(
            {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Declined"}
            if event_type == "payment_intent.payment_failed"
            else None
        ),
    )
    if status == "succeeded":
        obj["amount_received"] = payment.amount
    obj.update(fields)
    return stripe_event(event_type, obj, event_id=event_id, created=created)


def charge_object(payment: Payment, **fields) -> dict:
    obj = stripe_object(
        "charge",
        id=f"ch_test{uuid.uuid4().hex[:20]}",
        payment_intent=payment.stripe_payment_intent_id,
        amount=payment.amount,
        amount_captured=payment.amount,
        currency=payment.currency,
        captured=True,
    )
    # Stripe's fixture shows the list expanded; an event's charge carries none (since 2022-11-15
    # `refunds` is included only when expanded, and events are never expanded).
    obj.pop("refunds", None)
    obj.update(fields)
    return obj


def signed(event: dict, secret: str, *, timestamp: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, sign(body, secret, timestamp=timestamp)
