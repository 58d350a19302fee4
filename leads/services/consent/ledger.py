"""The consent ledger: append-only records, chained per lead by hashes."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from leads.hashing import consent_record_hash, consent_subject_digest
from leads.models import (
    SOURCE_FORM_MAX_LENGTH,
    URL_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    ConsentRecord,
    ConsentState,
    ConsentText,
    Lead,
)
from leads.normalise import ip_normalise, url_clean
from leads.services.consent.texts import PURPOSES, consent_text_current
from leads.services.readiness import lead_readiness_apply
from leads.types import CaptureContext

Decision = ConsentRecord.Decision
DECISIONS = tuple(Decision.values)


@dataclass(frozen=True)
class ConsentEntry:
    purpose: str
    decision: str
    consent_text: ConsentText


def _state_after(current: str, decision: str) -> str:
    """A lead's standing for a purpose after one more decision.

    An unticked box on a later form is not a withdrawal: it leaves a consent already given in
    place. Withdrawal is its own explicit act.
    """
    if decision == Decision.GRANTED:
        return ConsentState.GRANTED
    if decision == Decision.WITHDRAWN:
        return ConsentState.WITHDRAWN
    if decision == Decision.PENDING:
        return ConsentState.GRANTED if current == ConsentState.GRANTED else ConsentState.PENDING
    return current or ConsentState.NOT_GIVEN


def consent_records_append_locked(
    *,
    lead: Lead,
    entries: list[ConsentEntry],
    method: str,
    context: CaptureContext,
    actor: Any = None,
    now: datetime | None = None,
) -> list[ConsentRecord]:
    """Append records to `lead`'s chain, in one INSERT. The caller holds the lead's row lock
    and saves `lead` (its chain head, length and consent states change here).

    The records are dated `now` (default: the time now, under the lock), but never before the
    chain's last record: a server whose clock is behind the one that wrote it must not make
    the chain's times go back."""
    if not entries:
        return []
    now = now or timezone.now()
    if lead.consent_chain_length:
        last_at = (
            ConsentRecord.objects.filter(lead_id=lead.pk, sequence=lead.consent_chain_length)
            .values_list("created_at", flat=True)
            .first()
        )
        if last_at is not None and last_at > now:
            now = last_at
    common = {
        "method": method,
        "subject_digest": consent_subject_digest(lead.email),
        "created_at": now,
        "ip": ip_normalise(context.ip),
        "user_agent": url_clean(context.user_agent or "", max_length=USER_AGENT_MAX_LENGTH),
        "source_form": url_clean(context.source_form or "", max_length=SOURCE_FORM_MAX_LENGTH),
        "source_url": url_clean(context.source_url or "", max_length=URL_MAX_LENGTH),
        "actor": actor if getattr(actor, "pk", None) else None,
    }
    records = []
    consents = dict(lead.consents)
    for entry in entries:
        record = ConsentRecord(
            lead=lead,
            sequence=lead.consent_chain_length + 1,
            purpose=entry.purpose,
            decision=entry.decision,
            consent_text=entry.consent_text,
            text_sha256=entry.consent_text.sha256,
            prev_hash=lead.consent_chain_head,
            **common,
        )
        record.record_hash = consent_record_hash(record)
        lead.consent_chain_length = record.sequence
        lead.consent_chain_head = record.record_hash
        consents[entry.purpose] = _state_after(consents.get(entry.purpose, ""), entry.decision)
        records.append(record)
    lead.consents = consents
    # The unique (lead, sequence) constraint backs up the row lock.
    return ConsentRecord.objects.bulk_create(records)


def consent_latest_text(*, lead: Lead, purpose: str) -> ConsentText:
    """The wording the person last decided on for `purpose` (the current one if none)."""
    latest = (
        ConsentRecord.objects.filter(lead=lead, purpose=purpose)
        .select_related("consent_text")
        .order_by("-sequence")
        .first()
    )
    return latest.consent_text if latest else consent_text_current(purpose=purpose)


def consent_record_append_locked(
    *,
    lead: Lead,
    entry: ConsentEntry,
    context: CaptureContext,
    actor: Any = None,
    now: datetime | None = None,
) -> ConsentRecord:
    """One decision on the row-locked lead's chain; its readiness re-evaluated, both saved."""
    (record,) = consent_records_append_locked(
        lead=lead, entries=[entry], method=context.method, context=context, actor=actor, now=now
    )
    lead_readiness_apply(lead=lead, now=now)
    lead.save()
    return record


def consent_record_append(
    *,
    lead: Lead,
    purpose: str,
    decision: str,
    context: CaptureContext,
    consent_text: ConsentText | None = None,
    actor: Any = None,
    now: datetime | None = None,
) -> ConsentRecord:
    """Append one consent decision for `lead` (locks the lead) and re-evaluate readiness.

    `consent_text` is the wording the person saw; None means the current version.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown consent purpose {purpose!r}")
    if decision not in DECISIONS:
        raise ValueError(f"Unknown consent decision {decision!r}")
    text = consent_text or consent_text_current(purpose=purpose)
    if text.purpose != purpose:
        raise ValueError("The consent text is for another purpose.")
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        record = consent_record_append_locked(
            lead=locked,
            entry=ConsentEntry(purpose, decision, text),
            context=context,
            actor=actor,
            now=now,
        )
    lead.refresh_from_db()
    return record
