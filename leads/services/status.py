"""The one place a lead's status changes (LEAD_STATUS_TRANSITIONS, config/transitions.py)."""

from __future__ import annotations

from typing import Any

from config.audit import audit_log_record
from config.transitions import Outcome, transition
from leads.models import LEAD_MACHINE, Lead, LeadStatus


class LeadStatusRefused(ValueError):
    pass


def lead_transition(
    *, lead: Lead, to_status: str, cause: str, actor: Any = None, reason: str = ""
) -> tuple[Lead, str]:
    """Move a lead the caller has locked to `to_status`; returns it and the outcome.

    The caller saves the lead (it changes readiness, routing and SLA fields in the same save).
    Every outcome is a LeadEvent; an applied move is also an audit entry. A refused move
    changes nothing.
    """
    from_status = lead.status
    lead, outcome = transition(
        LEAD_MACHINE,
        instance=lead,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail={"reason": reason[:500]} if reason else None,
        save=False,
    )
    if outcome == Outcome.APPLIED:
        audit_log_record(
            actor=actor,
            action="leads.status_changed",
            target=lead,
            detail={"from": from_status, "to": to_status, "reason": reason[:500]},
        )
    return lead, outcome


def lead_status_refusal(*, lead: Lead, to_status: str) -> LeadStatusRefused:
    """The error to show for a refused move, in people's words."""
    return LeadStatusRefused(
        f"A {LeadStatus(lead.status).label.lower()} lead cannot become "
        f"{LeadStatus(to_status).label.lower()}."
    )


def lead_status_set(
    *, lead: Lead, to: str, actor: Any = None, reason: str = "", cause: str = ""
) -> None:
    """`lead_transition` for callers whose move is always allowed (capture's quarantine, the
    first contact, erasure): a refusal raises LeadStatusRefused, which rolls back the caller's
    work with it."""
    _, outcome = lead_transition(
        lead=lead, to_status=to, cause=cause or f"to_{to}", actor=actor, reason=reason
    )
    if outcome == Outcome.REFUSED:
        raise lead_status_refusal(lead=lead, to_status=to)
