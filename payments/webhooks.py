"""Stripe webhooks: verify, store in the inbox, dispatch to handlers later in a task."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from config.celery import enqueue_on_commit
from payments import gateway
from payments.models import WebhookEvent

logger = logging.getLogger(__name__)

# Event type -> handler(event: WebhookEvent) -> None. Types not listed are marked `ignored`.
HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {}

_INSERT_SQL = f"""
INSERT INTO {WebhookEvent._meta.db_table}
    (stripe_event_id, type, api_version, livemode, stripe_created_at, payload,
     signature_verified, status, attempts, last_error, received_at)
VALUES (%s, %s, %s, %s, %s, %s, true, 'received', 0, '', %s)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id
"""  # noqa: S608 (the table name is ours, every value is a parameter)


def webhook_event_store(*, payload: gateway.WebhookPayload) -> int | None:
    """Insert the event under its unique Stripe id. Returns the new row id, or None if known."""
    created = datetime.fromtimestamp(payload.created, tz=UTC) if payload.created else None
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            [
                payload.id,
                payload.type,
                payload.api_version,
                payload.livemode,
                created,
                json.dumps(payload.raw),
                timezone.now(),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def webhook_receive(*, body: bytes, signature_header: str) -> int | None:
    """Verify and store one delivery; schedule its processing once stored."""
    payload = gateway.webhook_payload_verify(payload=body, signature_header=signature_header)
    with transaction.atomic():
        event_id = webhook_event_store(payload=payload)
        if event_id is not None:
            from payments.tasks import webhook_event_process

            enqueue_on_commit(webhook_event_process, event_id)
    return event_id


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Run the handler for one stored event, once. Safe to call again for the same event."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.status in (
            WebhookEvent.Status.PROCESSED,
            WebhookEvent.Status.IGNORED,
            WebhookEvent.Status.DEAD,
        ):
            return event
        event.attempts += 1
        event.processing_started_at = timezone.now()
        handler = HANDLERS.get(event.type)
        if handler is None:
            event.status = WebhookEvent.Status.IGNORED
            event.processed_at = timezone.now()
            event.save(
                update_fields=["status", "attempts", "processing_started_at", "processed_at"]
            )
            return event
        # The handler's effects and the `processed` mark commit together, or not at all.
        handler(event)
        event.status = WebhookEvent.Status.PROCESSED
        event.processed_at = timezone.now()
        event.last_error = ""
        event.save(
            update_fields=[
                "status",
                "attempts",
                "processing_started_at",
                "processed_at",
                "last_error",
            ]
        )
    return event
