"""First-response SLAs: the escalation ladder and first contact (the clock itself is in
leads.services.sla_clock).

Due leads are claimed with SELECT … FOR UPDATE SKIP LOCKED by the beat task. Every function
takes `now` so tests move the clock instead of sleeping.
"""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.audit import audit_log_record
from config.celery import enqueue_on_commit
from leads.models import Lead, LeadStatus, SalesOwner, SlaEvent, SlaState
from leads.selectors import sales_users
from leads.services.routing import lead_route
from leads.services.sla_clock import (
    SLA_CLOCK_FIELDS,
    ladder_check_at,
    lead_sla_restart,
    sla_ladder,
)
from leads.services.status import lead_status_set
from leads.tasks import lead_sla_event_notify_task

logger = logging.getLogger(__name__)

Action = SlaEvent.Action


def _owner_profile(user_id: int | None) -> SalesOwner | None:
    if user_id is None:
        return None
    return SalesOwner.objects.select_related("team_lead").filter(user_id=user_id).first()


def _sales_group_emails() -> list[str]:
    return [email for email in sales_users().values_list("email", flat=True) if email]


def _sla_event_level_next(lead: Lead) -> int:
    """The level of the lead's next SlaEvent: one more than the highest so far.

    Lead.sla_level is the step on the ladder for the current owner and goes back to 0 when a
    reassignment restarts the clock, while SlaEvent is unique per (lead, level) and keeps every
    earlier step. So an event's level numbers the step in the lead's whole history (1, 2, 3 for
    the first owner, then 4, 5, ... for the next) and only equals sla_level + 1 until the first
    restart. Every insert happens under the lead's row lock, so reading the maximum and then
    inserting is safe; the unique constraint still refuses a second writer that got past it.
    """
    highest = lead.sla_events.aggregate(highest=Max("level"))["highest"]
    return (highest or 0) + 1


def _escalate(lead: Lead, now: datetime) -> SlaEvent | None:
    ladder = sla_ladder()
    level = lead.sla_level
    if level >= len(ladder):
        lead.sla_next_check_at = None
        return None
    action, _ = ladder[level]
    recipients: list[str] = []
    detail = ""
    assignment = None
    profile = _owner_profile(lead.owner_id)
    if action == Action.NOTIFY_OWNER:
        if lead.owner and lead.owner.email:
            recipients = [lead.owner.email]
            detail = f"Reminded {lead.owner} that the first response is overdue."
        else:
            recipients = _sales_group_emails()
            detail = "No owner: told the Sales team the first response is overdue."
    elif action == Action.NOTIFY_TEAM_LEAD:
        if profile and profile.team_lead and profile.team_lead.email:
            recipients = [profile.team_lead.email]
            detail = f"Told team lead {profile.team_lead} about the overdue lead."
        else:
            recipients = _sales_group_emails()
            detail = "No team lead on record: told the Sales team."
    elif action == Action.REASSIGN:
        previous = lead.owner
        exclude = {lead.owner_id} if lead.owner_id else set()
        reassigned = lead.sla_events.filter(action=Action.REASSIGN).count()
        if reassigned < settings.LEADS_SLA_MAX_REASSIGNMENTS:
            assignment = lead_route(
                lead=lead,
                now=now,
                exclude_user_ids=exclude,
                reason_prefix="SLA breach, reassigned. ",
            )
        if assignment is None and reassigned >= settings.LEADS_SLA_MAX_REASSIGNMENTS:
            # Passing it round again would not help: people decide now.
            recipients = _sales_group_emails()
            detail = (
                f"Already reassigned {reassigned} time{'' if reassigned == 1 else 's'} without "
                "a first response; "
                "told the Sales team instead of passing it on again."
            )
        elif assignment is not None:
            recipients = [e for e in [assignment.owner.email, getattr(previous, "email", "")] if e]
            detail = (
                f"Reassigned from {previous or 'nobody'} to {assignment.owner}, "
                "whose first-response clock starts now."
            )
        else:
            recipients = _sales_group_emails()
            detail = "Nobody else was available to take the lead; told the Sales team."
    try:
        with transaction.atomic():
            event = SlaEvent.objects.create(
                lead=lead,
                level=_sla_event_level_next(lead),
                action=action,
                created_at=now,
                detail=detail[:300],
                recipients=recipients,
            )
    except IntegrityError:
        # Another writer recorded this lead's next step first (it got past the lead's lock):
        # do not record it twice.
        event = None
    if assignment is not None:
        # The new owner is reminded first, then their team lead, and so on, each counted from
        # their own due time; lead_sla_restart cannot refuse here (the sweeper only claims new,
        # uncontacted leads).
        lead_sla_restart(lead=lead, now=now)
    else:
        lead.sla_state = SlaState.BREACHED
        lead.sla_level = level + 1
        lead.sla_next_check_at = ladder_check_at(lead, level + 1)
    if event is not None and recipients:
        enqueue_on_commit(lead_sla_event_notify_task, event.pk)
    return event


def lead_sla_breaches_process(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Take the next ladder step on every lead whose check is due. Returns steps taken.

    Rows are claimed with SKIP LOCKED, so two sweepers (or a sweeper and a salesperson logging
    first contact) never block each other or take the same step twice.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.LEADS_SLA_SWEEP_BATCH
    taken = 0
    with transaction.atomic():
        due = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("owner")
            .filter(
                sla_next_check_at__lte=now,
                first_contacted_at__isnull=True,
                status__in=[LeadStatus.NEW],
            )
            .order_by("sla_next_check_at")[:batch_size]
        )
        for lead in due:
            if _escalate(lead, now) is not None:
                taken += 1
            lead.save(update_fields=["owner", *SLA_CLOCK_FIELDS, "updated_at"])
    return taken


def lead_sla_event_notify(*, event_id: int, now: datetime | None = None) -> bool:
    """Email the recipients of one escalation step, once."""
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            SlaEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead", "lead__owner")
            .filter(pk=event_id, notified_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        if event.recipients:
            lead = event.lead
            admin_url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
                "admin:leads_lead_change", args=[lead.pk]
            )
            body = render_to_string(
                "leads/email/sla_breach.txt",
                {"event": event, "lead": lead, "admin_url": admin_url},
            )
            EmailMessage(
                subject=f"First response overdue: lead #{lead.pk}",
                body=body,
                to=event.recipients,
            ).send()
        event.notified_at = now
        event.save(update_fields=["notified_at"])
    return True


def lead_first_contact_log(
    *, lead: Lead, actor: Any, at: datetime | None = None, note: str = ""
) -> Lead:
    """Record the first contact with `lead`; this stops the SLA clock. Idempotent."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.first_contacted_at is not None or locked.status == LeadStatus.ERASED:
            return locked
        locked.first_contacted_at = at
        locked.first_contacted_by = actor if getattr(actor, "pk", None) else None
        if locked.first_response_due_at is not None:
            in_time = at <= locked.first_response_due_at
            locked.sla_state = SlaState.MET if in_time else SlaState.MET_LATE
        locked.sla_next_check_at = None
        if locked.status == LeadStatus.NEW:
            lead_status_set(
                lead=locked,
                to=LeadStatus.CONTACTED,
                actor=actor,
                reason=note,
                cause="first_contact",
            )
        locked.save()
        audit_log_record(
            actor=actor,
            action="leads.first_contact_logged",
            target=locked,
            detail={"at": at.isoformat(), "sla_state": locked.sla_state, "note": note[:500]},
        )
    lead.refresh_from_db()
    return lead
