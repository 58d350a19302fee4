"""No lost work: the inbox sweeper, dead letters and replay, and the Events API backfill."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.audit import audit_log_record
from payments import gateway
from payments.models import WebhookEvent
from payments.services.webhook_events import webhook_event_transition
from payments.webhooks import webhook_event_enqueue, webhook_event_store

logger = logging.getLogger(__name__)


def webhook_events_due(*, now) -> Q:
    """Events that should have finished by now: never picked up, failed and due, or a lease
    that ran out (the worker died mid-task)."""
    grace = timedelta(seconds=settings.PAYMENTS_WEBHOOK_SWEEP_GRACE_SECONDS)
    S = WebhookEvent.Status
    return (
        Q(status=S.RECEIVED, received_at__lte=now - grace)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ) | Q(status__in=[S.FAILED, S.PROCESSING], next_attempt_at__lte=now)


def webhook_events_sweep(*, now=None, limit: int | None = None) -> list[int]:
    """Claim due events (skipping rows a worker holds) and enqueue each for processing.

    The claim pushes `next_attempt_at` one lease ahead, so a lost enqueue is swept again later
    and two sweepers never send the same event at once. Returns the ids sent.
    """
    now = now or timezone.now()
    limit = limit or settings.PAYMENTS_WEBHOOK_SWEEP_BATCH
    lease = timedelta(seconds=settings.PAYMENTS_WEBHOOK_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(webhook_events_due(now=now))
            .order_by("stripe_created_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            WebhookEvent.objects.filter(pk__in=ids).update(next_attempt_at=now + lease)
            for event_id in ids:
                webhook_event_enqueue(event_id=event_id)
    if ids:
        logger.info("sweeper re-drove %s webhook events", len(ids))
    return ids


def webhook_event_replay(*, event_id: int, actor: Any) -> WebhookEvent:
    """Give a dead, failed or unmatched event a fresh set of attempts (an admin action)."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status == WebhookEvent.Status.PROCESSED:
            return event
        previous = {"status": event.status, "attempts": event.attempts, "error": event.last_error}
        webhook_event_transition(
            event=event,
            to_status=WebhookEvent.Status.RECEIVED,
            cause="staff_replay",
            actor=actor,
            detail=previous,
            fields={
                "attempts": 0,
                "unmatched": False,
                "next_attempt_at": None,
                "processed_at": None,
            },
        )
        audit_log_record(
            actor=actor, action="payments.webhook_event_replay", target=event, detail=previous
        )
        webhook_event_enqueue(event_id=event.pk)
    return event


def webhook_events_backfill(*, created_gte: int, created_lte: int) -> dict[str, int]:
    """Store every event Stripe has in the range (30 days at most) and process the new ones.

    Stripe signs deliveries, not the Events API: these come over our authenticated API call, so
    they are stored with `signature_verified=False` to say so.
    """
    counts = {"fetched": 0, "stored": 0, "known": 0}
    for raw in gateway.events_list(created_gte=created_gte, created_lte=created_lte):
        counts["fetched"] += 1
        payload = gateway.webhook_payload_from_event(raw)
        with transaction.atomic():
            event_id = webhook_event_store(payload=payload, signature_verified=False)
            if event_id is None:
                counts["known"] += 1
            else:
                counts["stored"] += 1
                webhook_event_enqueue(event_id=event_id)
    return counts
