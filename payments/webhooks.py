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

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.celery import enqueue_on_commit
from payments import gateway, tasks
from payments.models import WebhookEvent
from payments.services.webhook_events import webhook_event_transition

logger = logging.getLogger(__name__)

# Event type -> handler(event: WebhookEvent) -> None. Types not listed are marked `ignored`.
# payments/handlers.py fills it (imported by PaymentsConfig.ready).
HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {}

_TERMINAL = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED, WebhookEvent.Status.DEAD)


class UnknownObject(Exception):
    """The event names a Stripe object we have no row for. The event is kept and marked."""


_INSERT_SQL = f"""
INSERT INTO {WebhookEvent._meta.db_table}
    (stripe_event_id, type, api_version, api_version_mismatch, livemode, stripe_created_at, body,
     payload, signature_verified, status, attempts, last_error, received_at, object_id, unmatched)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, false)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id
"""  # noqa: S608 (the table name is ours, every value is a parameter)


def webhook_event_store(
    *,
    payload: gateway.WebhookPayload,
    body: bytes | None = None,
    signature_verified: bool = True,
) -> int | None:
    """Insert the event under its unique Stripe id. Returns the new row id, or None if known.

    Raw SQL because the ORM cannot say `ON CONFLICT DO NOTHING RETURNING id`: a redelivery (or
    two concurrent ones) must be a no-op that tells the caller it was one.
    """
    created = datetime.fromtimestamp(payload.created, tz=UTC) if payload.created else None
    object_id = payload.data_object.get("id")
    api_version = payload.api_version
    return _insert(
        stripe_event_id=payload.id,
        type=payload.type,
        api_version=api_version,
        api_version_mismatch=bool(api_version) and api_version != settings.STRIPE_API_VERSION,
        livemode=payload.livemode,
        stripe_created_at=created,
        body=json.dumps(payload.raw).encode() if body is None else body,
        payload=_jsonb_safe(payload.raw),
        signature_verified=signature_verified,
        status=WebhookEvent.Status.RECEIVED,
        last_error="",
        object_id=object_id[:255] if isinstance(object_id, str) else "",
    )


def webhook_dead_letter_store(*, body: bytes, reason: str) -> int | None:
    """Keep a validly signed body we cannot process as a dead letter, under an id made from its
    bytes (a redelivery of the same body is a no-op). Stripe gets its 2xx: retrying would not
    make the body readable, and staff see the reason in the dead-letter list."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    event_type = parsed.get("type") if isinstance(parsed, dict) else None
    logger.error("webhook body kept as a dead letter: %s", reason)
    return _insert(
        stripe_event_id=f"malformed:{hashlib.sha256(body).hexdigest()}",
        type=event_type[:100] if isinstance(event_type, str) else "",
        api_version="",
        api_version_mismatch=False,
        livemode=False,
        stripe_created_at=None,
        body=body,
        payload={},
        signature_verified=True,
        status=WebhookEvent.Status.DEAD,
        last_error=reason[:2000],
        object_id="",
    )


def _insert(**values: Any) -> int | None:
    params = [
        values["stripe_event_id"],
        values["type"],
        values["api_version"],
        values["api_version_mismatch"],
        values["livemode"],
        values["stripe_created_at"],
        values["body"],
        json.dumps(values["payload"]),
        values["signature_verified"],
        values["status"],
        values["last_error"],
        timezone.now(),
        values["object_id"],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _jsonb_safe(value: Any) -> Any:
    """`value` with every U+0000 in its strings and keys read as U+FFFD (jsonb refuses U+0000)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_jsonb_safe(k): _jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonb_safe(v) for v in value]
    return value


def webhook_receive(*, body: bytes, signature_header: str) -> int | None:
    """Verify and store one delivery exactly as received; schedule its processing once stored.

    Raises InvalidWebhook only when the signature is refused. A validly signed body that is not
    an event we can process is stored as a dead letter, never refused: Stripe sent it.
    Autocommit: the single INSERT is its own transaction, and the enqueue happens after it.
    """
    gateway.webhook_signature_verify(payload=body, signature_header=signature_header)
    try:
        payload = gateway.webhook_payload_parse(body)
    except gateway.MalformedWebhook as exc:
        return webhook_dead_letter_store(body=body, reason=str(exc))
    event_id = webhook_event_store(payload=payload, body=body)
    if event_id is not None:
        webhook_event_enqueue(event_id=event_id)
    return event_id


def webhook_event_enqueue(*, event_id: int) -> None:
    """Ask a worker to process the event once the current transaction (if any) commits.

    A broker outage never fails the caller: the stored row is the outbox and the sweeper
    re-drives it.
    """
    enqueue_on_commit(tasks.webhook_event_process, event_id)


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
            webhook_event_transition(
                event=event,
                to_status=WebhookEvent.Status.DEAD,
                cause="attempts_used_up",
                fields={"next_attempt_at": None},
            )
            logger.error("webhook event %s is dead after %s attempts", event.pk, event.attempts)
            return event
        if not event.payload.get("id"):
            # A body kept as a dead letter (replayed from the admin): it cannot be read now either.
            try:
                gateway.webhook_payload_parse(bytes(event.body))
                reason = "the stored payload is empty"
            except gateway.MalformedWebhook as exc:
                reason = str(exc)
            webhook_event_transition(
                event=event,
                to_status=WebhookEvent.Status.DEAD,
                cause="unreadable",
                fields={"last_error": reason, "next_attempt_at": None},
            )
            return event
        webhook_event_transition(
            event=event,
            to_status=WebhookEvent.Status.PROCESSING,
            cause="claimed",
            detail={"attempt": event.attempts + 1},
            fields={
                "attempts": event.attempts + 1,
                "processing_started_at": now,
                "next_attempt_at": now + timedelta(seconds=settings.PAYMENTS_WEBHOOK_LEASE_SECONDS),
            },
        )

    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_id)
            if event.status in _TERMINAL:
                return event
            handler = HANDLERS.get(event.type)
            fields: dict[str, Any] = {}
            if handler is None:
                to_status, cause = WebhookEvent.Status.IGNORED, "no_handler"
            elif event.livemode != settings.STRIPE_SECRET_KEY.startswith("sk_live_"):
                # A test-mode event at a live endpoint (or the reverse) never moves our money.
                to_status, cause = WebhookEvent.Status.IGNORED, "livemode_mismatch"
                fields["unmatched"] = True
                fields["last_error"] = "livemode does not match this deployment's Stripe keys"
            else:
                try:
                    with transaction.atomic():
                        handler(event)
                    to_status, cause = WebhookEvent.Status.PROCESSED, "handled"
                except UnknownObject as exc:
                    # Kept, marked and visible in the admin; replayable once the object exists.
                    to_status, cause = WebhookEvent.Status.IGNORED, "unknown_object"
                    fields["unmatched"] = True
                    fields["last_error"] = str(exc)[:2000]
                    logger.warning("webhook event %s: %s", event.stripe_event_id, exc)
            fields.update(processed_at=timezone.now(), next_attempt_at=None)
            if not fields.get("unmatched", event.unmatched):
                fields["last_error"] = ""
            event, _ = webhook_event_transition(
                event=event, to_status=to_status, cause=cause, fields=fields
            )
            return event
    except Exception as exc:
        logger.exception("webhook event %s failed", event_id)
        return _record_failure(event_id=event_id, error=exc)


def _record_failure(*, event_id: int, error: Exception) -> WebhookEvent:
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in _TERMINAL:
            return event
        fields: dict[str, Any] = {"last_error": f"{type(error).__name__}: {error}"[:2000]}
        if event.attempts >= settings.PAYMENTS_WEBHOOK_MAX_ATTEMPTS:
            to_status = WebhookEvent.Status.DEAD
            fields["next_attempt_at"] = None
        else:
            to_status = WebhookEvent.Status.FAILED
            fields["next_attempt_at"] = timezone.now() + webhook_event_backoff(
                attempts=event.attempts
            )
        event, _ = webhook_event_transition(
            event=event,
            to_status=to_status,
            cause="handler_failed",
            detail={"error": type(error).__name__},
            fields=fields,
        )
    return event
