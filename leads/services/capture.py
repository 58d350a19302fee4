"""lead_capture: a first (or repeat) touch becomes one lead, its consents and a touchpoint."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leads.models import (
    SOURCE_FORM_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentText,
    Lead,
    LeadStatus,
    Segment,
    Touchpoint,
)
from leads.normalise import (
    TOUCH_FIELDS,
    LeadInputError,
    ip_normalise,
    lead_input_clean,
    text_clean,
    url_clean,
)
from leads.risk import Velocity, risk_total, submission_risk_factors
from leads.services.consent.ledger import ConsentEntry, consent_records_append_locked
from leads.services.consent.texts import PURPOSES, consent_texts_current
from leads.services.intake import lead_intake_schedule
from leads.services.lead import SUBMITTED_DETAIL_FIELDS
from leads.services.readiness import lead_readiness_apply, readiness_policy_active
from leads.services.sla_clock import lead_sla_start
from leads.services.status import lead_status_set
from leads.throttling import velocity_count
from leads.types import CaptureContext

Decision = ConsentRecord.Decision
OUT_OF_DATE = "This form is out of date. Reload the page and send it again."


def _consent_texts(
    consents: dict[str, bool], consent_text_ids: dict[str, int] | None
) -> list[tuple[str, bool, ConsentText]]:
    """(purpose, ticked, the wording shown) per checkbox shown, in a stable order."""
    unknown = set(consents) - set(PURPOSES)
    if unknown:
        # The unknown keys are not echoed back: they are attacker-controlled text.
        allowed = ", ".join(PURPOSES)
        raise LeadInputError({"consents": [f"Unknown consent purpose. Use one of: {allowed}."]})
    shown = [purpose for purpose in PURPOSES if purpose in consents]
    ids = {p: (consent_text_ids or {}).get(p) for p in shown}
    without_id = [p for p in shown if ids[p] is None]
    texts = consent_texts_current(purposes=without_id) if without_id else {}
    try:
        by_pk = ConsentText.objects.in_bulk([int(pk) for pk in ids.values() if pk is not None])
    except (TypeError, ValueError):
        raise LeadInputError({"consents": [OUT_OF_DATE]}) from None
    for purpose in shown:
        if ids[purpose] is not None:
            text = by_pk.get(int(ids[purpose]))
            # A forged or mismatched version: record nothing rather than the wrong words.
            if text is None or text.purpose != purpose:
                raise LeadInputError({"consents": [OUT_OF_DATE]})
            texts[purpose] = text
    return [(purpose, bool(consents[purpose]), texts[purpose]) for purpose in shown]


def _decision(purpose: str, ticked: bool, lead: Lead) -> str:
    """What a checkbox records. A ticked marketing_email box stays pending until the person
    confirms the link we email them (double opt-in), unless they already had."""
    if not ticked:
        return Decision.NOT_GIVEN
    if (
        purpose == ConsentPurpose.MARKETING_EMAIL
        and lead.consents.get(purpose) != ConsentState.GRANTED
    ):
        return Decision.PENDING
    return Decision.GRANTED


def _details_merge(lead: Lead, cleaned: dict[str, str], now: datetime) -> None:
    """A repeat submission's details: an empty field on the lead is filled; one that differs
    from what we hold is kept aside for the owner (Lead.submitted_details), never written over:
    anyone who knows an email address could otherwise rewrite that person's record."""
    differences = {}
    for field in SUBMITTED_DETAIL_FIELDS:
        submitted, held = cleaned[field], getattr(lead, field)
        if not submitted or submitted == held:
            continue
        if held:
            differences[field] = submitted
        else:
            setattr(lead, field, submitted)
            if field == "company":
                lead.segment = Segment.BUSINESS
    if differences:
        lead.submitted_details = {**lead.submitted_details, **differences, "at": now.isoformat()}


def lead_capture(
    *,
    email: str,
    name: str,
    company: str = "",
    phone: str = "",
    country: str = "",
    consents: dict[str, bool],
    consent_text_ids: dict[str, int] | None = None,
    touch: dict[str, str] | None = None,
    context: CaptureContext,
    started_at: datetime | None = None,
    honeypot: str = "",
    velocity: Velocity | None = None,
) -> Lead:
    """Record one submission: dedupe by normalised email (concurrency-safe), append a
    ConsentRecord per checkbox shown (`consents`: purpose -> ticked), store a Touchpoint, score
    risk, evaluate readiness and start a new lead's first-response clock. Routing and the double
    opt-in email follow in a worker as soon as this commits (leads.services.intake).

    A ticked marketing_email box is recorded as pending until the person confirms the link in
    the email we send (double opt-in). A known lead keeps its details: empty ones are filled,
    differing ones wait for the owner (Lead.submitted_details). Bad input raises
    LeadInputError and writes nothing.

    `velocity` is the submission as counted by the caller (leads.throttling); None counts it
    here.
    """
    cleaned = lead_input_clean(
        email=email, name=name, company=company, phone=phone, country=country
    )
    texts = _consent_texts(consents, consent_text_ids)
    ip = ip_normalise(context.ip)
    if velocity is None:
        velocity = velocity_count(ip=ip, email=cleaned["email"])
    policy = readiness_policy_active()
    touch = touch or {}
    touch_values = {
        "source_form": url_clean(context.source_form or "", max_length=SOURCE_FORM_MAX_LENGTH),
        "ip": ip,
        "ip_country": text_clean(context.ip_country or "").upper()[:2],
        "user_agent": url_clean(context.user_agent or "", max_length=USER_AGENT_MAX_LENGTH),
        **{
            field: url_clean(str(touch.get(field) or ""), max_length=max_length)
            for field, max_length in TOUCH_FIELDS.items()
        },
    }
    with transaction.atomic():
        now = timezone.now()
        # The row lock serialises submissions of one email: a concurrent first submission waits
        # for the other to commit and then takes the lead it created.
        lead, created = Lead.objects.select_for_update().get_or_create(
            email=cleaned["email"],
            defaults={
                **{field: cleaned[field] for field in SUBMITTED_DETAIL_FIELDS},
                "segment": Segment.BUSINESS if cleaned["company"] else Segment.CONSUMER,
                "created_at": now,
            },
        )
        if lead.status == LeadStatus.ERASED:  # only if someone typed the pseudonym itself
            raise LeadInputError({"email": ["Enter an email address like name@example.com."]})
        if not created:
            # Dated when the lock is held, and never before the lead's last touch, whatever
            # this server's clock says: first_touch must not come after last_touch.
            now = timezone.now()
            last_touch_at = lead.last_touch.created_at if lead.last_touch_id else None
            if last_touch_at is not None and last_touch_at > now:
                now = last_touch_at
            _details_merge(lead, cleaned, now)

        factors = [
            factor.as_dict()
            for factor in submission_risk_factors(
                honeypot=honeypot or "", started_at=started_at, now=now, velocity=velocity
            )
        ]
        touchpoint = Touchpoint.objects.create(
            lead=lead,
            created_at=now,
            risk_score=risk_total(factors),
            risk_factors=factors,
            **touch_values,
        )
        if lead.first_touch_id is None:
            lead.first_touch = touchpoint
        lead.last_touch = touchpoint
        lead.submissions += 1
        # The riskiest submission so far stays part of the score.
        if risk_total(factors) > risk_total(lead.submission_risk_factors):
            lead.submission_risk_factors = factors

        records = consent_records_append_locked(
            lead=lead,
            entries=[
                ConsentEntry(purpose, _decision(purpose, ticked, lead), text)
                for purpose, ticked, text in texts
            ],
            method=context.method,
            context=context,
            now=now,
        )
        result = lead_readiness_apply(
            lead=lead, now=now, policy=policy, ip_country=touchpoint.ip_country
        )
        if created:
            if result.risk_score >= settings.LEADS_SPAM_RISK_SCORE:
                # Quarantine: nobody's time is spent on it and no email goes out.
                lead_status_set(
                    lead=lead,
                    to=LeadStatus.SPAM,
                    reason=f"Risk score at capture: {result.risk_score}",
                    cause="capture_risk",
                )
                lead_readiness_apply(
                    lead=lead, now=now, policy=policy, ip_country=touchpoint.ip_country
                )
            else:
                lead_sla_start(lead=lead, now=now)
        if lead.status != LeadStatus.SPAM and (
            created or any(record.decision == Decision.PENDING for record in records)
        ):
            # Routing a new lead, or a double opt-in email to send: intake's work. Suspected
            # spam gets neither.
            lead.intake_pending_since = lead.intake_pending_since or now
            lead_intake_schedule(lead_id=lead.pk)
        lead.save()
    return lead
