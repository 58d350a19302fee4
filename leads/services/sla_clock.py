"""The first-response clock: when a new lead's first response is due, in business time, and
when the next step of the escalation ladder is.

Work due later is a column (`Lead.sla_next_check_at`) that the beat task claims, never a broker
countdown. Every function takes `now` so tests move the clock instead of sleeping.
"""

import functools
from datetime import datetime

from django.conf import settings

from leads.business_hours import BusinessHours
from leads.models import Lead, LeadStatus, SlaEvent, SlaState

Action = SlaEvent.Action


def sla_ladder() -> list[tuple[str, int]]:
    return list(_ladder(tuple(tuple(step) for step in settings.LEADS_SLA_LADDER)))


@functools.lru_cache(maxsize=16)
def _ladder(steps: tuple) -> tuple[tuple[str, int], ...]:
    # Checked once per distinct configuration (a typo in the setting fails loudly).
    ladder = tuple((action, int(minutes)) for action, minutes in steps)
    for action, _ in ladder:
        if action not in Action.values:
            raise ValueError(f"LEADS_SLA_LADDER has an unknown action {action!r}")
    return ladder


def ladder_check_at(lead: Lead, level: int, hours: BusinessHours | None = None) -> datetime | None:
    """When step `level` (0-based) of the ladder is due for `lead`, or None after the last."""
    ladder = sla_ladder()
    if level >= len(ladder) or lead.first_response_due_at is None:
        return None
    hours = hours or BusinessHours.from_settings()
    return hours.add(lead.first_response_due_at, ladder[level][1])


# The lead's columns that lead_sla_start writes, for callers that save with update_fields.
SLA_CLOCK_FIELDS = ["first_response_due_at", "sla_state", "sla_level", "sla_next_check_at"]


def lead_sla_start(*, lead: Lead, now: datetime) -> None:
    """Start the first-response clock on a new lead (the caller saves it)."""
    hours = BusinessHours.from_settings()
    lead.first_response_due_at = hours.add(now, settings.LEADS_SLA_FIRST_RESPONSE_MINUTES)
    lead.sla_state = SlaState.PENDING
    lead.sla_level = 0
    lead.sla_next_check_at = ladder_check_at(lead, 0, hours)


def lead_sla_restart(*, lead: Lead, now: datetime) -> bool:
    """Give the lead's new owner a fresh first-response clock, from the bottom of the ladder.

    Only while the lead is new and no first contact is logged: after that there is no clock to
    restart. The caller holds the lead's lock and saves SLA_CLOCK_FIELDS. The SlaEvents of
    earlier owners stay as history (see leads.services.sla). Returns whether it restarted.
    """
    if lead.status != LeadStatus.NEW or lead.first_contacted_at is not None:
        return False
    lead_sla_start(lead=lead, now=now)
    return True


def lead_sla_stop(*, lead: Lead) -> None:
    lead.sla_state = SlaState.NONE
    lead.sla_next_check_at = None
