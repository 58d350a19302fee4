"""Changes to a lead after capture: status, staff edits, submitted details and erasure."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.audit import audit_log_record
from config.transitions import Outcome
from leads.models import (
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    Lead,
    LeadStatus,
    Segment,
    SlaState,
    TenderType,
    Touchpoint,
)
from leads.normalise import (
    LeadInputError,
    company_clean,
    country_normalise,
    name_clean,
    phone_normalise,
)
from leads.services.consent.ledger import (
    ConsentEntry,
    consent_latest_text,
    consent_records_append_locked,
)
from leads.services.readiness import lead_readiness_apply
from leads.services.routing import lead_route
from leads.services.sla_clock import lead_sla_start, lead_sla_stop
from leads.services.status import (
    LeadStatusRefused,
    lead_status_refusal,
    lead_status_set,
    lead_transition,
)
from leads.types import CaptureContext

# Details a repeat submission may bring that differ from what we hold (Lead.submitted_details).
SUBMITTED_DETAIL_FIELDS = ("name", "company", "phone", "country")


def lead_status_change(*, lead: Lead, to: str, actor: Any, reason: str = "") -> Lead:
    """Staff move a lead to another status (locks it, re-evaluates readiness)."""
    if to == LeadStatus.ERASED:
        raise LeadStatusRefused("Erase a lead with lead_erase, which removes the personal data.")
    refused: LeadStatusRefused | None = None
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        previous = locked.status
        _, outcome = lead_transition(
            lead=locked, to_status=to, cause="staff", actor=actor, reason=reason
        )
        if outcome == Outcome.REFUSED:
            # Raised once this block has committed, so the refusal stays on the lead's history.
            refused = lead_status_refusal(lead=locked, to_status=to)
        else:
            _after_status_change(lead=locked, previous=previous, to=to)
    if refused is not None:
        raise refused
    lead.refresh_from_db()
    return lead


def _after_status_change(*, lead: Lead, previous: str, to: str) -> None:
    """What follows a staff move, on the locked lead: the SLA clock, routing and readiness."""
    now = timezone.now()
    if to == LeadStatus.SPAM:
        lead_sla_stop(lead=lead)
    elif previous == LeadStatus.SPAM and to == LeadStatus.NEW:
        # Released from quarantine: it now gets an owner and a first-response clock.
        if lead.owner_id is None:
            lead_route(lead=lead, now=now, reason_prefix="Released from spam. ")
        lead_sla_start(lead=lead, now=now)
    elif to != LeadStatus.NEW and lead.first_contacted_at is None:
        lead.sla_next_check_at = None
    lead_readiness_apply(lead=lead, now=now)
    lead.save()


EDITABLE_FIELDS = {"name", "company", "phone", "country", "segment", "preferred_tender"}


def lead_update(*, lead: Lead, actor: Any, **changes: str) -> Lead:
    """Staff correct a lead's details. Values are cleaned like the form's; readiness is
    re-evaluated. Raises LeadInputError with per-field messages."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("last_touch")
            .get(pk=lead.pk)
        )
        if locked.status == LeadStatus.ERASED:
            raise LeadInputError({"name": ["This lead was erased; its details cannot be edited."]})
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, str] = {}
        cleaners = {
            "name": name_clean,
            "company": company_clean,
            "country": country_normalise,
        }
        for field, value in changes.items():
            try:
                if field in cleaners:
                    cleaned[field] = cleaners[field](value)
                elif field == "segment":
                    cleaned[field] = Segment(value).value
                elif field == "preferred_tender":
                    cleaned[field] = TenderType(value).value
            except LeadInputError as exc:
                errors.update(exc.errors)
            except ValueError:
                errors[field] = ["Choose one of the options."]
        if "phone" in changes:
            try:
                cleaned["phone"] = phone_normalise(
                    changes["phone"], country=cleaned.get("country", locked.country)
                )
            except LeadInputError as exc:
                errors.update(exc.errors)
        if errors:
            raise LeadInputError(errors)
        before = {field: getattr(locked, field) for field in cleaned}
        for field, value in cleaned.items():
            setattr(locked, field, value)
        # A submitted detail that the record now holds is settled.
        locked.submitted_details = {
            field: value
            for field, value in locked.submitted_details.items()
            if field == "at" or getattr(locked, field, None) != value
        }
        if set(locked.submitted_details) <= {"at"}:
            locked.submitted_details = {}
        lead_readiness_apply(lead=locked)
        locked.save()
        # Personal details are named, not copied: the audit log is append-only, and an erasure
        # must leave no name or number behind in it.
        changed = {
            f: "changed" if f in _PERSONAL_FIELDS else [before[f], cleaned[f]]
            for f in cleaned
            if before[f] != cleaned[f]
        }
        if changed:
            audit_log_record(
                actor=actor, action="leads.lead_updated", target=locked, detail=changed
            )
    lead.refresh_from_db()
    return lead


ERASED_EMAIL_DOMAIN = "erased.invalid"
# What lead_erase replaces or blanks on the lead itself.
_PERSONAL_FIELDS = frozenset({"email", "name", "company", "phone"})


def lead_erase(*, lead: Lead, actor: Any, reason: str = "", now: datetime | None = None) -> Lead:
    """Act on an erasure request (GDPR Art. 17).

    Personal data on the lead and its touchpoints is replaced or blanked. Kept, as the law
    allows (Art. 17(3)(b), Art. 7(1)): the consent records, which are the evidence of lawful
    processing and identify the person only by a keyed hash of the email, and the lead row
    itself, which financial records in other apps point at. Marketing consents still granted
    are withdrawn first so the ledger says why mail stopped.
    """
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.status == LeadStatus.ERASED:
            return locked
        now = now or timezone.now()  # under the lock: what it writes follows what came before
        context = CaptureContext(
            ip=None, user_agent="", source_form="erasure", source_url="", method="admin"
        )
        entries = [
            ConsentEntry(
                purpose,
                ConsentRecord.Decision.WITHDRAWN,
                consent_latest_text(lead=locked, purpose=purpose),
            )
            for purpose in (ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.SMS)
            if locked.consents.get(purpose) in {ConsentState.GRANTED, ConsentState.PENDING}
        ]
        consent_records_append_locked(
            lead=locked,
            entries=entries,
            method=ConsentRecord.Method.ADMIN,
            context=context,
            actor=actor,
            now=now,
        )
        lead_status_set(
            lead=locked, to=LeadStatus.ERASED, actor=actor, reason=reason, cause="erasure"
        )
        locked.email = f"erased-{locked.pk}@{ERASED_EMAIL_DOMAIN}"
        locked.name = "Erased person"
        locked.company = ""
        locked.phone = ""
        locked.erased_at = now
        locked.sla_state = SlaState.NONE
        locked.sla_next_check_at = None
        locked.submission_risk_factors = []
        locked.submitted_details = {}
        lead_readiness_apply(lead=locked, now=now)
        locked.risk_factors = []
        locked.readiness_checklist = [["Erased on request", False]]
        locked.save()
        Touchpoint.objects.filter(lead=locked).update(
            ip=None,
            user_agent="",
            referrer="",
            landing_page="",
            gclid="",
            fbclid="",
            utm_term="",
            risk_factors=[],
        )
        audit_log_record(
            actor=actor,
            action="leads.lead_erased",
            target=locked,
            detail={"reason": reason[:500]},
        )
    lead.refresh_from_db()
    return lead


def lead_submitted_details_accept(*, lead: Lead, actor: Any) -> Lead:
    """The owner takes what a repeat submission said (Lead.submitted_details) as the lead's
    details, cleaned and audited as any staff edit. Raises LeadInputError."""
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        changes = {
            field: value
            for field, value in locked.submitted_details.items()
            if field in SUBMITTED_DETAIL_FIELDS
        }
        if changes.get("company"):
            changes["segment"] = Segment.BUSINESS
        if changes:
            lead_update(lead=locked, actor=actor, **changes)
        Lead.objects.filter(pk=locked.pk).update(submitted_details={})
    lead.refresh_from_db()
    return lead


def lead_submitted_details_dismiss(*, lead: Lead, actor: Any) -> Lead:
    """The owner keeps the lead's details as they are and forgets what was submitted."""
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.submitted_details:
            locked.submitted_details = {}
            locked.save(update_fields=["submitted_details", "updated_at"])
            audit_log_record(actor=actor, action="leads.submitted_details_dismissed", target=locked)
    lead.refresh_from_db()
    return lead
