"""Stripe webhooks: verify, store in the inbox, dispatch to handlers later in a task.

Inbox states (DESIGN.md §4): received → processing → processed | ignored | failed → … → dead.
Each event is processed in two short transactions. The first claims it (attempts + 1, status
`processing`, a lease in `next_attempt_at`) and commits, so a crash is counted. The second locks
the row again, runs the handler and marks the event `processed` in the same transaction: the
handler's effects and the mark commit together or not at all, which is what makes a redelivered
task (or the sweeper) safe. Both take a blocking row lock: a duplicate task waits for the first
one and then sees the event finished.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.publisher import BackgroundPublisher
from payments import gateway
from payments.models import WebhookEvent

logger = logging.getLogger(__name__)

# Event type -> handler(event: WebhookEvent) -> None. Types not listed are marked `ignored`.
# payments/handlers.py fills it (imported by PaymentsConfig.ready).
HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {}

_TERMINAL = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED, WebhookEvent.Status.DEAD)


class UnknownObject(Exception):
    """The event names a Stripe object we have no row for. The event is kept and marked."""


_INSERT_SQL = f"""
INSERT INTO {WebhookEvent._meta.db_table}
    (stripe_event_id, type, api_version, livemode, stripe_created_at, payload,
     signature_verified, status, attempts, last_error, received_at, object_id, unmatched)
VALUES (%s, %s, %s, %s, %s, %s, %s, 'received', 0, '', %s, %s, false)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id
"""  # noqa: S608 (the table name is ours, every value is a parameter)


def webhook_event_store(
    *, payload: gateway.WebhookPayload, signature_verified: bool = True
) -> int | None:
    """Insert the event under its unique Stripe id. Returns the new row id, or None if known."""
    created = datetime.fromtimestamp(payload.created, tz=UTC) if payload.created else None
    object_id = payload.data_object.get("id")
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
                signature_verified,
                timezone.now(),
                object_id[:255] if isinstance(object_id, str) else "",
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def webhook_receive(*, body: bytes, signature_header: str) -> int | None:
    """Verify and store one delivery; schedule its processing once stored.

    Autocommit: the single INSERT is its own transaction, and the enqueue happens after it.
    """
    payload = gateway.webhook_payload_verify(payload=body, signature_header=signature_header)
    event_id = webhook_event_store(payload=payload)
    if event_id is not None:
        webhook_event_enqueue(event_id=event_id, background=True)
    return event_id


def _publish(event_ids: list[int]) -> None:
    """One event: its processing task. Several (a burst): one message that a worker fans out
    into one processing task per event, so the web process pays for one publish, not many."""
    from payments.tasks import webhook_event_process, webhook_events_dispatch

    if len(event_ids) == 1:
        webhook_event_process.apply_async(args=(event_ids[0],))
    else:
        webhook_events_dispatch.apply_async(args=(list(event_ids),))


_publisher = BackgroundPublisher(
    "webhook-publisher",
    _publish,
    breaker_seconds=lambda: settings.PAYMENTS_BROKER_BREAKER_SECONDS,
)


def webhook_event_enqueue(*, event_id: int, background: bool = False) -> None:
    """Ask a worker to process the event once the current transaction (if any) commits.

    `background` hands the publish to this process's publisher thread (the webhook view);
    eager mode (unit tests) always runs it inline. A broker outage never fails the caller: the
    stored row is the outbox and the sweeper re-drives it.
    """
    from config.celery import app

    if background and not app.conf.task_always_eager:
        transaction.on_commit(lambda: _publisher.submit(event_id))
    else:
        transaction.on_commit(lambda: _publisher.publish_now([event_id]))


def broker_breaker_reset() -> None:
    _publisher.breaker_reset()


def webhook_event_backoff(*, attempts: int) -> timedelta:
    base = settings.PAYMENTS_WEBHOOK_BACKOFF_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.PAYMENTS_WEBHOOK_BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds)


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Run the handler for one stored event, once. Safe to call again for the same event."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.status in _TERMINAL:
            return event
        now = timezone.now()  # under the lock: the lease starts when this attempt does
        if event.attempts >= settings.PAYMENTS_WEBHOOK_MAX_ATTEMPTS:
            event.status = WebhookEvent.Status.DEAD
            event.next_attempt_at = None
            event.save(update_fields=["status", "next_attempt_at"])
            logger.error("webhook event %s is dead after %s attempts", event.pk, event.attempts)
            return event
        event.attempts += 1
        event.status = WebhookEvent.Status.PROCESSING
        event.processing_started_at = now
        event.next_attempt_at = now + timedelta(seconds=settings.PAYMENTS_WEBHOOK_LEASE_SECONDS)
        event.save(update_fields=["attempts", "status", "processing_started_at", "next_attempt_at"])

    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_id)
            if event.status in _TERMINAL:
                return event
            handler = HANDLERS.get(event.type)
            if handler is None:
                event.status = WebhookEvent.Status.IGNORED
            elif event.livemode != settings.STRIPE_SECRET_KEY.startswith("sk_live_"):
                # A test-mode event at a live endpoint (or the reverse) never moves our money.
                event.status = WebhookEvent.Status.IGNORED
                event.unmatched = True
                event.last_error = "livemode does not match this deployment's Stripe keys"
            else:
                try:
                    with transaction.atomic():
                        handler(event)
                    event.status = WebhookEvent.Status.PROCESSED
                except UnknownObject as exc:
                    # Kept, marked and visible in the admin; replayable once the object exists.
                    event.status = WebhookEvent.Status.IGNORED
                    event.unmatched = True
                    event.last_error = str(exc)[:2000]
                    logger.warning("webhook event %s: %s", event.stripe_event_id, exc)
            event.processed_at = timezone.now()
            event.next_attempt_at = None
            if not event.unmatched:
                event.last_error = ""
            event.save(
                update_fields=[
                    "status", "processed_at", "next_attempt_at", "last_error", "unmatched",
                ]
            )  # fmt: skip
            return event
    except Exception as exc:
        logger.exception("webhook event %s failed", event_id)
        return _record_failure(event_id=event_id, error=exc)


def _record_failure(*, event_id: int, error: Exception) -> WebhookEvent:
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in _TERMINAL:
            return event
        event.last_error = f"{type(error).__name__}: {error}"[:2000]
        if event.attempts >= settings.PAYMENTS_WEBHOOK_MAX_ATTEMPTS:
            event.status = WebhookEvent.Status.DEAD
            event.next_attempt_at = None
        else:
            event.status = WebhookEvent.Status.FAILED
            event.next_attempt_at = timezone.now() + webhook_event_backoff(attempts=event.attempts)
        event.save(update_fields=["last_error", "status", "next_attempt_at"])
    return event
