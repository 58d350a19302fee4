"""The one place a DunningCase's status changes (STYLE.md, State; the shape of
payments/services/transitions.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from config.transitions import status_event_record, transition
from dunning.models import (
    CLOSED_STATUSES,
    DUNNING_CASE_MACHINE,
    DunningCase,
    DunningCaseEvent,
)

logger = logging.getLogger(__name__)


class CaseClosed(Exception):
    """The case is closed; nothing more can be done with it. The message is safe to show."""


def dunning_case_transition(
    *,
    case_id: int,
    to_status: str,
    cause: str,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[DunningCase, str]:
    """Move a case to `to_status` if the machine allows it, and record the attempt.

    Locks the row (a caller already holding the lock keeps it). A move the machine does not
    allow is recorded as refused and changes nothing. `fields` are set when the move is applied
    (or when the case is already in that status). Closing a case cancels every pending step:
    it drops out of the scheduler (`next_action_at` cleared). Returns the case and the outcome.
    """

    def on_apply(case: DunningCase, from_status: str) -> dict[str, Any]:
        if to_status in CLOSED_STATUSES:
            return {
                "closed_at": (fields or {}).get("closed_at") or timezone.now(),
                "next_action_at": None,
            }
        return {}

    def after_commit(case: DunningCase, from_status: str) -> None:
        logger.info("dunning case %s: %s -> %s (%s)", case.pk, from_status, to_status, cause)

    return transition(
        DUNNING_CASE_MACHINE,
        pk=case_id,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        fields=fields,
        on_apply=on_apply,
        after_commit=after_commit,
    )


def dunning_case_note_event(
    *, case: DunningCase, cause: str, actor: Any = None, detail: dict | None = None
) -> DunningCaseEvent:
    """Record something that happened to a case without changing its status (a skipped retry,
    a message not sent, a failure on the payment page)."""
    return status_event_record(
        DUNNING_CASE_MACHINE, instance=case, cause=cause, actor=actor, detail=detail
    )
