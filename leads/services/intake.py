"""Intake: what follows a capture, in a worker, as soon as the capture commits.

Capture (leads.services.capture) does what the visitor's answer depends on: the lead, its
consent records, its touchpoint, risk, readiness and the first-response clock. Intake does the
rest, which needs locks and reads that would serialise captures: routing a new lead to an
owner (the rule's turn counter is one row every capture would queue on), and opening the
double opt-in confirmation for a pending marketing consent, which sends its email.

A captured lead carries `intake_pending_since`, and capture enqueues `lead_intake_task` on
commit. The worker's `lead_intake_process` clears the mark in the same transaction as its work,
so running it twice does nothing the second time. An enqueue lost to a crash or a broker outage
is found by `leads_intake_sweep` (beat): the marked rows are the outbox.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery import enqueue_on_commit
from leads.models import ConsentPurpose, ConsentRecord, ConsentState, Lead, LeadStatus
from leads.selectors import leads_intake_pending
from leads.services.consent.double_opt_in import consent_confirmation_open
from leads.services.routing import lead_route
from leads.tasks import lead_intake_task

logger = logging.getLogger(__name__)


def lead_intake_schedule(*, lead_id: int) -> None:
    """Run intake for `lead_id` in a worker once the current transaction commits."""
    enqueue_on_commit(lead_intake_task, lead_id)


def lead_intake_process(*, lead_id: int, now: datetime | None = None) -> bool:
    """Route the lead if it is new and has no owner, and open the double opt-in confirmation
    for its newest pending marketing consent. False if there was nothing left to do."""
    with transaction.atomic():
        lead = (
            Lead.objects.select_for_update()
            .filter(pk=lead_id, intake_pending_since__isnull=False)
            .first()
        )
        if lead is None:
            return False
        now = now or timezone.now()  # under the lock, like every other write to the lead
        if (
            lead.status == LeadStatus.NEW
            and lead.owner_id is None
            and lead.first_contacted_at is None
        ):
            lead_route(lead=lead, now=now)
        purpose = ConsentPurpose.MARKETING_EMAIL
        if lead.consents.get(purpose) == ConsentState.PENDING:
            # One email for the newest request; an earlier unconfirmed one is superseded.
            pending = (
                ConsentRecord.objects.filter(
                    lead=lead, purpose=purpose, decision=ConsentRecord.Decision.PENDING
                )
                .order_by("-sequence")
                .first()
            )
            if pending is not None and not hasattr(pending, "confirmation"):
                consent_confirmation_open(lead=lead, pending_record=pending, now=now)
        lead.intake_pending_since = None
        lead.save(update_fields=["owner", "intake_pending_since", "updated_at"])
    return True


def leads_intake_run(*, lead_ids: list[int]) -> int:
    """Intake for each of `lead_ids`, each in its own transaction. One lead failing does not
    stop the others; it keeps its mark, so the sweeper tries it again."""
    done = 0
    failed: Exception | None = None
    for lead_id in lead_ids:
        try:
            done += lead_intake_process(lead_id=lead_id)
        except Exception as exc:
            logger.exception("intake of lead %s failed; the sweeper will retry it", lead_id)
            # To the back of the sweeper's queue, so leads that keep failing cannot take every
            # batch and starve the rest.
            Lead.objects.filter(pk=lead_id, intake_pending_since__isnull=False).update(
                intake_pending_since=timezone.now()
            )
            failed = failed or exc
    if failed is not None:
        raise failed
    return done


def leads_intake_sweep(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Intake for leads whose enqueue was lost (older than LEADS_INTAKE_SWEEP_AFTER_SECONDS)."""
    lead_ids = leads_intake_pending(
        older_than=timedelta(seconds=settings.LEADS_INTAKE_SWEEP_AFTER_SECONDS),
        now=now,
        limit=batch_size,
    )
    if lead_ids:
        logger.info("intake sweep: %s leads were never processed", len(lead_ids))
    return leads_intake_run(lead_ids=lead_ids)
