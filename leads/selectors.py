"""Reads: consent history and chain verification, work queues, sales staff, outboxes."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from leads.hashing import consent_record_hash, consent_text_sha256
from leads.models import (
    ConsentConfirmation,
    ConsentRecord,
    Lead,
    LeadStatus,
    SalesOwner,
    SlaEvent,
    SlaState,
)

SALES_GROUP = "Sales"
OPEN_STATUSES = [LeadStatus.NEW, LeadStatus.CONTACTED]
# What routing needs of an owner and their user (not the password hash and the rest).
ROUTING_OWNER_FIELDS = [
    "capacity",
    "user__username",
    "user__first_name",
    "user__last_name",
    "user__email",
]


@dataclass(frozen=True)
class ChainProblem:
    lead_id: int
    sequence: int | None
    problem: str

    def __str__(self) -> str:
        where = f"record #{self.sequence}" if self.sequence is not None else "chain"
        return f"lead {self.lead_id}, {where}: {self.problem}"


def lead_consent_history(*, lead: Lead) -> QuerySet[ConsentRecord]:
    return (
        ConsentRecord.objects.filter(lead=lead)
        .select_related("consent_text", "actor")
        .order_by("sequence")
    )


def _verify_one(lead: Lead, records: list[ConsentRecord]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    previous_hash = ""
    for expected, record in enumerate(records, start=1):
        if record.sequence != expected:
            problems.append(
                ChainProblem(lead.pk, record.sequence, f"expected record #{expected} here")
            )
        if record.prev_hash != previous_hash:
            problems.append(
                ChainProblem(lead.pk, record.sequence, "does not follow the record before it")
            )
        if consent_record_hash(record) != record.record_hash:
            problems.append(
                ChainProblem(lead.pk, record.sequence, "its contents changed after it was written")
            )
        text = record.consent_text
        if record.text_sha256 != text.sha256 or consent_text_sha256(text.text) != text.sha256:
            problems.append(
                ChainProblem(
                    lead.pk, record.sequence, f"the wording of {text} no longer matches its hash"
                )
            )
        previous_hash = record.record_hash
    if lead.consent_chain_length != len(records) or lead.consent_chain_head != previous_hash:
        problems.append(
            ChainProblem(
                lead.pk,
                None,
                f"the lead expects {lead.consent_chain_length} records ending in "
                f"{lead.consent_chain_head[:12] or 'nothing'}, found {len(records)} ending in "
                f"{previous_hash[:12] or 'nothing'} (records removed or added)",
            )
        )
    return problems


def consent_chains_verify(
    *, lead_ids: Iterable[int] | None = None
) -> tuple[int, list[ChainProblem]]:
    """Check every lead's consent chain (or only `lead_ids`). Returns (leads checked, problems).

    A record whose fields were edited, a record removed from the middle or the end, a record
    slipped in, or consent wording changed under its hash all show up as problems.
    """
    leads = Lead.objects.order_by("pk")
    if lead_ids is not None:
        leads = leads.filter(pk__in=list(lead_ids))
    problems: list[ChainProblem] = []
    checked = 0
    # Stream records in chain order next to their leads; memory stays flat on big ledgers.
    records = (
        ConsentRecord.objects.filter(lead__in=leads)
        .select_related("consent_text")
        .order_by("lead_id", "sequence")
        .iterator(chunk_size=2000)
    )
    pending = next(records, None)
    for lead in leads.only("pk", "consent_chain_length", "consent_chain_head").iterator():
        chain = []
        while pending is not None and pending.lead_id == lead.pk:
            chain.append(pending)
            pending = next(records, None)
        problems.extend(_verify_one(lead, chain))
        checked += 1
    return checked, problems


def leads_sla_overdue(*, now: datetime | None = None) -> QuerySet[Lead]:
    """Leads still waiting for a first response after their due time."""
    now = now or timezone.now()
    return Lead.objects.filter(
        first_contacted_at__isnull=True,
        first_response_due_at__lte=now,
        sla_state__in=[SlaState.PENDING, SlaState.BREACHED],
        status=LeadStatus.NEW,
    )


def sales_owners_eligible() -> QuerySet[SalesOwner]:
    """Owners who may hold leads: active Sales staff users."""
    return SalesOwner.objects.filter(
        is_active=True,
        user__is_active=True,
        user__is_staff=True,
        user__groups__name=SALES_GROUP,
    ).select_related("user")


def sales_users() -> QuerySet:
    return get_user_model().objects.filter(is_active=True, is_staff=True, groups__name=SALES_GROUP)


def sales_owner_open_leads(*, owner: SalesOwner) -> int:
    return Lead.objects.filter(owner_id=owner.user_id, status__in=OPEN_STATUSES).count()


def consent_confirmations_unsent(
    *, older_than: timedelta, now: datetime | None = None
) -> list[int]:
    """Double opt-in emails whose enqueue was lost: open, unsent, older than `older_than`."""
    now = now or timezone.now()
    return list(
        ConsentConfirmation.objects.filter(
            sent_at__isnull=True, confirmed_at__isnull=True, created_at__lte=now - older_than
        ).values_list("pk", flat=True)[:500]
    )


def sla_events_unsent(*, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """Escalation emails whose enqueue was lost."""
    now = now or timezone.now()
    return list(
        SlaEvent.objects.filter(notified_at__isnull=True, created_at__lte=now - older_than)
        .exclude(recipients=[])
        .values_list("pk", flat=True)[:500]
    )


def leads_intake_pending(*, older_than: timedelta, now: datetime | None = None, limit: int = 500):
    """Captured leads whose intake has waited longer than `older_than`, oldest first."""
    now = now or timezone.now()
    return list(
        Lead.objects.filter(intake_pending_since__lte=now - older_than)
        .order_by("intake_pending_since")
        .values_list("pk", flat=True)[:limit]
    )


def leads_sla_at_risk(*, owner, within: timedelta, now: datetime | None = None) -> QuerySet[Lead]:
    """`owner`'s leads still waiting for a first response that are past their due time or due
    within `within` (the staff home's "breaching or near their SLA")."""
    now = now or timezone.now()
    return Lead.objects.filter(
        owner=owner,
        first_contacted_at__isnull=True,
        first_response_due_at__lte=now + within,
        status=LeadStatus.NEW,
    )
