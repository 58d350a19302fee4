"""The one place a lead's status changes."""

import logging
from typing import Any

from config.audit import audit_log_record
from leads.models import LEAD_STATUS_TRANSITIONS, Lead, LeadStatus

logger = logging.getLogger(__name__)


class LeadStatusRefused(ValueError):
    pass


def lead_status_set(*, lead: Lead, to: str, actor: Any = None, reason: str = "") -> None:
    """Move `lead` to status `to` by LEAD_STATUS_TRANSITIONS, with an audit entry. The caller
    holds the lead's row lock and saves it. An illegal move is refused and logged."""
    if to == lead.status:
        return
    if to not in LEAD_STATUS_TRANSITIONS.get(lead.status, set()):
        logger.warning("refused lead %s status %s -> %s", lead.pk, lead.status, to)
        raise LeadStatusRefused(
            f"A {LeadStatus(lead.status).label.lower()} lead cannot become "
            f"{LeadStatus(to).label.lower()}."
        )
    previous = lead.status
    lead.status = to
    audit_log_record(
        actor=actor,
        action="leads.status_changed",
        target=lead,
        detail={"from": previous, "to": to, "reason": reason[:500]},
    )
