"""lead_capture: a first (or repeat) touch becomes one lead, its consents and a touchpoint."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.models import (
    CLICK_ID_MAX_LENGTH,
    URL_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    UTM_MAX_LENGTH,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentText,
    Lead,
    LeadStatus,
    Segment,
    Touchpoint,
)
from leads.normalise import LeadInputError, ip_normalise, lead_input_clean, text_clean, url_clean
from leads.risk import risk_total, submission_risk_factors
from leads.services.consent import (
    ConsentEntry,
    consent_confirmation_open,
    consent_records_append_locked,
    consent_text_by_pk,
    consent_texts_current,
)
from leads.services.lead import lead_status_set
from leads.services.readiness import lead_readiness_apply, readiness_policy_active
from leads.services.routing import lead_route
from leads.services.sla import lead_sla_start
from leads.types import CaptureContext

logger = logging.getLogger(__name__)

Decision = ConsentRecord.Decision

TOUCH_FIELDS = {
    "utm_source": UTM_MAX_LENGTH,
    "utm_medium": UTM_MAX_LENGTH,
    "utm_campaign": UTM_MAX_LENGTH,
    "utm_term": UTM_MAX_LENGTH,
    "utm_content": UTM_MAX_LENGTH,
    "referrer": URL_MAX_LENGTH,
    "landing_page": URL_MAX_LENGTH,
    "gclid": CLICK_ID_MAX_LENGTH,
    "fbclid": CLICK_ID_MAX_LENGTH,
}


def _consent_entries(
    consents: dict[str, bool], consent_text_ids: dict[str, int] | None
) -> list[tuple[str, bool, ConsentText]]:
    unknown = set(consents) - set(ConsentPurpose.values)
    if unknown:
        # The unknown keys are not echoed back: they are attacker-controlled text.
        allowed = ", ".join(ConsentPurpose.values)
        raise LeadInputError({"consents": [f"Unknown consent purpose. Use one of: {allowed}."]})
    entries = []
    shown = [purpose for purpose in ConsentPurpose.values if purpose in consents]
    without_id = [p for p in shown if (consent_text_ids or {}).get(p) is None]
    current = consent_texts_current(purposes=without_id) if without_id else {}
    for purpose in shown:  # a stable order in the chain
        text_id = (consent_text_ids or {}).get(purpose)
        if text_id is None:
            text = current[purpose]
        else:
            try:
                text = consent_text_by_pk(int(text_id))
            except (TypeError, ValueError):
                text = None
            # A forged or mismatched version: record nothing rather than the wrong words.
            if text is None or text.purpose != purpose:
                raise LeadInputError(
                    {"consents": ["This form is out of date. Reload the page and send it again."]}
                )
        entries.append((purpose, bool(consents[purpose]), text))
    return entries


def _touch_clean(touch: dict[str, str] | None) -> dict[str, str]:
    touch = touch or {}
    return {
        field: url_clean(str(touch.get(field) or ""), max_length=max_length)
        for field, max_length in TOUCH_FIELDS.items()
    }


def _lead_lock_or_create(*, email: str, defaults: dict, now: datetime) -> tuple[Lead, bool]:
    """The lead for `email`, row-locked, created if new, in one statement.

    INSERT … ON CONFLICT (email) DO UPDATE either inserts the row or locks the existing one;
    a concurrent first submission of the same email waits for the first to commit and then
    takes the existing row, so parallel submissions always end in one lead. `xmax = 0` is
    Postgres's way of saying the row was inserted by this statement.
    """
    lead = Lead(email=email, created_at=now, updated_at=now, **defaults)
    fields = [field for field in Lead._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    # Only identifiers from the model's own metadata go into the text; values are parameters.
    sql = (
        f"INSERT INTO {quote(Lead._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote('email')}) DO UPDATE SET {quote('updated_at')} = "
        f"EXCLUDED.{quote('updated_at')} "
        "RETURNING *, (xmax = 0) AS inserted"
    )
    params = [field.get_db_prep_save(getattr(lead, field.attname), connection) for field in fields]
    lead = next(iter(Lead.objects.raw(sql, params)))
    return lead, bool(lead.inserted)


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
) -> Lead:
    """Record one submission: dedupe by normalised email (row-locked, concurrency-safe),
    append a ConsentRecord per checkbox shown (`consents`: purpose -> ticked), store a
    Touchpoint, score risk, re-evaluate readiness, and give a new lead an owner and a
    first-response due time.

    A ticked marketing_email box is recorded as pending until the person confirms the link in
    the email we send (double opt-in). Bad input raises LeadInputError and writes nothing.
    """
    cleaned = lead_input_clean(
        email=email, name=name, company=company, phone=phone, country=country
    )
    entries = _consent_entries(consents, consent_text_ids)
    touch_data = _touch_clean(touch)
    now = timezone.now()
    ip = ip_normalise(context.ip)
    ip_country = text_clean(context.ip_country or "").upper()[:2]
    factors = [
        factor.as_dict()
        for factor in submission_risk_factors(
            honeypot=honeypot or "",
            started_at=started_at,
            now=now,
            ip=ip,
            email=cleaned["email"],
        )
    ]
    policy = readiness_policy_active()

    with transaction.atomic():
        lead, created = _lead_lock_or_create(
            email=cleaned["email"],
            defaults={
                "name": cleaned["name"],
                "company": cleaned["company"],
                "phone": cleaned["phone"],
                "country": cleaned["country"],
                "segment": Segment.BUSINESS if cleaned["company"] else Segment.CONSUMER,
            },
            now=now,
        )
        if lead.status == LeadStatus.ERASED:  # only if someone typed the pseudonym itself
            raise LeadInputError({"email": ["Enter an email address like name@example.com."]})
        if not created:
            # Newer details win; an empty optional field does not wipe what we know.
            lead.name = cleaned["name"]
            for field in ("company", "phone", "country"):
                if cleaned[field]:
                    setattr(lead, field, cleaned[field])
            if cleaned["company"]:
                lead.segment = Segment.BUSINESS

        touchpoint = Touchpoint.objects.create(
            lead=lead,
            created_at=now,
            source_form=url_clean(context.source_form or "", max_length=64),
            ip=ip,
            ip_country=ip_country,
            user_agent=url_clean(context.user_agent or "", max_length=USER_AGENT_MAX_LENGTH),
            risk_score=risk_total(factors),
            risk_factors=factors,
            **touch_data,
        )
        if lead.first_touch_id is None:
            lead.first_touch = touchpoint
        lead.last_touch = touchpoint
        lead.submissions += 1
        if risk_total(factors) > risk_total(lead.submission_risk_factors):
            lead.submission_risk_factors = factors

        consent_entries = []
        for purpose, ticked, text in entries:
            if not ticked:
                decision = Decision.NOT_GIVEN
            elif (
                purpose == ConsentPurpose.MARKETING_EMAIL
                and lead.consents.get(purpose) != ConsentState.GRANTED
            ):
                decision = Decision.PENDING
            else:
                decision = Decision.GRANTED
            consent_entries.append(ConsentEntry(purpose, decision, text))
        records = consent_records_append_locked(
            lead=lead,
            entries=consent_entries,
            method=context.method,
            context=context,
            now=now,
        )

        result = lead_readiness_apply(lead=lead, now=now, policy=policy)
        if created:
            if result.risk_score >= settings.LEADS_SPAM_RISK_SCORE:
                # Quarantine: nobody's time is spent on it and no email goes out.
                lead_status_set(
                    lead=lead,
                    to=LeadStatus.SPAM,
                    reason=f"Risk score at capture: {result.risk_score}",
                )
                lead_readiness_apply(lead=lead, now=now, policy=policy)
            else:
                lead_route(lead=lead, now=now)
                lead_sla_start(lead=lead, now=now)
        lead.save()

        for record in records:
            if record.decision == Decision.PENDING:
                consent_confirmation_open(lead=lead, pending_record=record, now=now)
    return lead
