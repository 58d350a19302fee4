"""The one place a DunningCase's status changes (STYLE.md, State; the shape of
payments/services/transitions.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from dunning.models import (
    CLOSED_STATUSES,
    DUNNING_CASE_TRANSITIONS,
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
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=case_id)
        from_status = case.status
        if to_status == from_status:
            outcome = DunningCaseEvent.Outcome.UNCHANGED
        elif to_status in DUNNING_CASE_TRANSITIONS[from_status]:
            outcome = DunningCaseEvent.Outcome.APPLIED
        else:
            outcome = DunningCaseEvent.Outcome.REFUSED

        if outcome == DunningCaseEvent.Outcome.REFUSED:
            logger.info(
                "dunning case %s: %s -> %s refused (cause %s)",
                case.pk, from_status, to_status, cause,
            )  # fmt: skip
        else:
            update = dict(fields or {})
            if outcome == DunningCaseEvent.Outcome.APPLIED:
                update["status"] = to_status
                if to_status in CLOSED_STATUSES:
                    update.setdefault("closed_at", timezone.now())
                    update["next_action_at"] = None
            for name, value in update.items():
                setattr(case, name, value)
            if update:
                case.save(update_fields=[*update, "updated_at"])

        DunningCaseEvent.objects.create(
            case=case,
            from_status=from_status,
            to_status=to_status,
            outcome=outcome,
            cause=cause,
            actor=actor if getattr(actor, "pk", None) else None,
            detail=detail or {},
        )
        if outcome == DunningCaseEvent.Outcome.APPLIED:
            transaction.on_commit(
                lambda: logger.info(
                    "dunning case %s: %s -> %s (%s)", case_id, from_status, to_status, cause
                )
            )
    return case, outcome


def dunning_case_note_event(
    *, case: DunningCase, cause: str, actor: Any = None, detail: dict | None = None
) -> DunningCaseEvent:
    """Record something that happened to a case without changing its status (a skipped retry,
    a message not sent, a failure on the payment page)."""
    return DunningCaseEvent.objects.create(
        case=case,
        from_status=case.status,
        to_status=case.status,
        outcome=DunningCaseEvent.Outcome.NOTED,
        cause=cause,
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail or {},
    )
