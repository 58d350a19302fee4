"""The one place an inbox event's status changes (WEBHOOK_EVENT_TRANSITIONS).

Written by the worker and by staff's replay, never by the acknowledgement: storing a delivery
stays one INSERT (payments.webhooks.webhook_event_store), and its history starts with the first
processing step.
"""

from __future__ import annotations

from typing import Any

from config.transitions import transition
from payments.models import WEBHOOK_EVENT_MACHINE, WebhookEvent


def webhook_event_transition(
    *,
    event: WebhookEvent,
    to_status: str,
    cause: str,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[WebhookEvent, str]:
    """Move an inbox event the caller has locked; returns it and the outcome.

    `fields` (attempts, lease, error) are saved with an applied or unchanged move; a refused
    move changes nothing. Every outcome is a WebhookEventHistory row.
    """
    return transition(
        WEBHOOK_EVENT_MACHINE,
        instance=event,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        fields=fields,
    )
