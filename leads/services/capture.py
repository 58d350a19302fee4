"""lead_capture: a first (or repeat) touch becomes one lead, its consents and a touchpoint."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.rows import IdBlocks, model_new, rows_insert_if_new
from leads.models import (
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
from leads.services.consent import (
    PURPOSES,
    ConsentEntry,
    consent_records_append_locked,
    consent_rows_build,
    consent_text_by_pk,
    consent_texts_current,
)
from leads.services.intake import lead_intake_schedule
from leads.services.lead import lead_status_set
from leads.services.readiness import lead_readiness_apply, readiness_policy_active
from leads.services.sla import lead_sla_start
from leads.types import CaptureContext

logger = logging.getLogger(__name__)

Decision = ConsentRecord.Decision

_lead_ids = IdBlocks(Lead)
_touchpoint_ids = IdBlocks(Touchpoint)


def _consent_entries(
    consents: dict[str, bool], consent_text_ids: dict[str, int] | None
) -> list[tuple[str, bool, ConsentText]]:
    unknown = set(consents) - set(PURPOSES)
    if unknown:
        # The unknown keys are not echoed back: they are attacker-controlled text.
        allowed = ", ".join(PURPOSES)
        raise LeadInputError({"consents": [f"Unknown consent purpose. Use one of: {allowed}."]})
    entries = []
    shown = [purpose for purpose in PURPOSES if purpose in consents]
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
    Postgres's way of saying the row was inserted by this statement. `last_touch_at` is the
    lead's latest touch's time (None without one), read under the same lock.
    """
    lead = Lead(email=email, created_at=now, updated_at=now, **defaults)
    fields = [field for field in Lead._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    table, touches = quote(Lead._meta.db_table), quote(Touchpoint._meta.db_table)
    # Only identifiers from the model's own metadata go into the text; values are parameters.
    sql = (
        f"INSERT INTO {table} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote('email')}) DO UPDATE SET {quote('updated_at')} = "
        f"EXCLUDED.{quote('updated_at')} "
        "RETURNING *, (xmax = 0) AS inserted, "
        f"(SELECT t.{quote('created_at')} FROM {touches} t "
        f"WHERE t.{quote('id')} = {table}.{quote('last_touch_id')}) AS last_touch_at"
    )
    params = [field.get_db_prep_save(getattr(lead, field.attname), connection) for field in fields]
    lead = next(iter(Lead.objects.raw(sql, params)))
    return lead, bool(lead.inserted)


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


def _person_fields(cleaned: dict[str, str]) -> dict[str, str]:
    """A new lead's details from a cleaned submission (the email aside)."""
    return {
        "name": cleaned["name"],
        "company": cleaned["company"],
        "phone": cleaned["phone"],
        "country": cleaned["country"],
        "segment": Segment.BUSINESS if cleaned["company"] else Segment.CONSUMER,
    }


@dataclass(frozen=True)
class _Submission:
    """One submission, cleaned and scored, ready to be written."""

    cleaned: dict[str, str]
    entries: list[tuple[str, bool, ConsentText]]
    touch: dict  # Touchpoint field values
    factors: list[dict]
    context: CaptureContext
    now: datetime


@dataclass(frozen=True)
class _NewLeadRows:
    """What a first submission writes (see _lead_insert_if_new), built before the submission is
    scored: the lead with its id, chain head and consent states, its touchpoint's ids and its
    consent records, hashed. Risk, readiness and the SLA clock are added once it is scored."""

    lead: Lead
    touchpoint: dict  # id and lead_id; the submission's touch values join them
    records: list[dict]


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
    velocity: Velocity | Callable[[], Velocity] | None = None,
    person_cleaned: bool = False,
) -> Lead:
    """Record one submission: dedupe by normalised email (concurrency-safe), append a
    ConsentRecord per checkbox shown (`consents`: purpose -> ticked), store a Touchpoint, score
    risk, evaluate readiness and start a new lead's first-response clock. Routing and the double
    opt-in email follow in a worker as soon as this commits (leads.services.intake).

    A ticked marketing_email box is recorded as pending until the person confirms the link in
    the email we send (double opt-in). Bad input raises LeadInputError and writes nothing.

    `velocity` is the submission as counted by the caller (leads.throttling), or a callable
    that gives it: capture calls it once, after the input is checked and the rows are built but
    before anything is written, so a caller can count in Redis while capture works (and may
    raise from it to refuse the submission: nothing is written then). None counts it here.

    `person_cleaned` says email, name, company, phone and country are lead_input_clean's output
    already (the form's and the API's quick checks run it to answer field by field), so they
    are not cleaned twice.
    """
    person = {"email": email, "name": name, "company": company, "phone": phone, "country": country}
    cleaned = person if person_cleaned else lead_input_clean(**person)
    entries = _consent_entries(consents, consent_text_ids)
    now = timezone.now()
    ip = ip_normalise(context.ip)
    touch_values = {
        "created_at": now,
        "source_form": url_clean(context.source_form or "", max_length=64),
        "ip": ip,
        "ip_country": text_clean(context.ip_country or "").upper()[:2],
        "user_agent": url_clean(context.user_agent or "", max_length=USER_AGENT_MAX_LENGTH),
        **_touch_clean(touch),
    }
    new_rows = _new_lead_rows(cleaned=cleaned, entries=entries, context=context, now=now)
    if callable(velocity):
        velocity = velocity()
    factors = [
        factor.as_dict()
        for factor in submission_risk_factors(
            honeypot=honeypot or "",
            started_at=started_at,
            now=now,
            ip=ip,
            email=cleaned["email"],
            velocity=velocity,
        )
    ]
    touch_values["risk_score"] = risk_total(factors)
    touch_values["risk_factors"] = factors
    submission = _Submission(
        cleaned=cleaned,
        entries=entries,
        touch=touch_values,
        factors=factors,
        context=context,
        now=now,
    )
    policy = readiness_policy_active()
    lead = _lead_insert_if_new(submission, new_rows, policy)
    if lead is None:
        lead = _lead_capture_locked(submission, policy)
    if lead.intake_pending_since is not None:
        lead_intake_schedule(lead_id=lead.pk)
    return lead


def _submission_records(
    write,
    lead: Lead,
    *,
    entries: list[tuple[str, bool, ConsentText]],
    context: CaptureContext,
    now: datetime,
) -> list:
    """The submission's checkboxes on `lead`'s chain, through `write`: consent_rows_build
    (rows, which the one-statement insert saves) or consent_records_append_locked."""
    return write(
        lead=lead,
        entries=[
            ConsentEntry(purpose, _decision(purpose, ticked, lead), text)
            for purpose, ticked, text in entries
        ],
        method=context.method,
        context=context,
        now=now,
    )


def _new_lead_rows(
    *,
    cleaned: dict[str, str],
    entries: list[tuple[str, bool, ConsentText]],
    context: CaptureContext,
    now: datetime,
) -> _NewLeadRows:
    """The rows a first submission writes, as far as they do not depend on its score.

    The ids come from per-process blocks of the tables' sequences, so the records' hashes (which
    cover the lead id) and the lead's first and last touch are known before anything is written.
    A repeat submission never uses them (its ids are simply never stored).
    """
    lead = model_new(
        Lead,
        {
            "id": _lead_ids.take(),
            "email": cleaned["email"],
            **_person_fields(cleaned),
            "submissions": 1,
            "intake_pending_since": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    touchpoint = {"id": _touchpoint_ids.take(), "lead_id": lead.pk}
    lead.first_touch_id = lead.last_touch_id = touchpoint["id"]
    records = _submission_records(
        consent_rows_build, lead, entries=entries, context=context, now=now
    )
    return _NewLeadRows(lead=lead, touchpoint=touchpoint, records=records)


def _lead_insert_if_new(submission: _Submission, rows: _NewLeadRows, policy) -> Lead | None:
    """The common case, a first submission, in one INSERT statement: the lead, its touchpoint
    and its consent records together, or nothing if the email is already known.

    `ON CONFLICT (email) DO NOTHING` makes the statement insert nothing at all for a known email
    (or one being inserted by a concurrent request, which it waits for): the caller then takes
    the locked path. Suspected spam also takes it, for its audited quarantine.
    """
    lead, now = rows.lead, submission.now
    # As the locked path: a submission's rules are kept when they score.
    lead.submission_risk_factors = submission.factors if risk_total(submission.factors) > 0 else []
    # The touchpoint and the records go in as rows, not model instances (see rows_insert_if_new).
    touchpoint = {**submission.touch, **rows.touchpoint}
    result = lead_readiness_apply(
        lead=lead, now=now, policy=policy, ip_country=touchpoint["ip_country"]
    )
    if result.risk_score >= settings.LEADS_SPAM_RISK_SCORE:
        return None
    lead_sla_start(lead=lead, now=now)
    inserted = rows_insert_if_new(
        parent=lead,
        conflict_field="email",
        dependents=[(Touchpoint, [touchpoint]), (ConsentRecord, rows.records)],
    )
    if not inserted:
        return None
    lead._state.adding, lead._state.db = False, connection.alias  # stored, as if saved
    return lead


def _lead_capture_locked(submission: _Submission, policy) -> Lead:
    """A repeat submission (or a new lead that looks like spam), under the lead's row lock.

    What it writes is dated when the lock is held, not when the request came in: parallel
    submissions of one email take the lock in their own order, and a touch recorded after
    another must not look older than it (first_touch would then be later than last_touch). Nor
    is it dated before the lead's last touch, whatever this server's clock says.
    """
    cleaned = submission.cleaned
    with transaction.atomic():
        lead, created = _lead_lock_or_create(
            email=cleaned["email"],
            defaults=_person_fields(cleaned),
            now=submission.now,
        )
        if not created:  # a new lead is dated as the one-statement path dates it
            now = timezone.now()
            if lead.last_touch_at is not None and lead.last_touch_at > now:
                now = lead.last_touch_at  # the server that wrote it has a clock ahead of ours
            submission = replace(submission, now=now, touch={**submission.touch, "created_at": now})
        now = submission.now
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

        touchpoint = Touchpoint.objects.create(lead=lead, **submission.touch)
        if lead.first_touch_id is None:
            lead.first_touch = touchpoint
        lead.last_touch = touchpoint
        lead.submissions += 1
        if risk_total(submission.factors) > risk_total(lead.submission_risk_factors):
            lead.submission_risk_factors = submission.factors

        records = _submission_records(
            consent_records_append_locked,
            lead,
            entries=submission.entries,
            context=submission.context,
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
                lead_sla_start(lead=lead, now=now)
        if lead.status != LeadStatus.SPAM and (
            created or any(record.decision == Decision.PENDING for record in records)
        ):
            # Routing a new lead, or a double opt-in email to send: intake's work. Suspected
            # spam gets neither.
            lead.intake_pending_since = lead.intake_pending_since or now
        lead.save()
    return lead
