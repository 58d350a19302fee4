"""The consent ledger: append-only records chained by hashes, double opt-in and withdrawal."""

import functools
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.celery import enqueue_on_commit
from leads.models import (
    ConsentConfirmation,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentText,
    Lead,
)
from leads.normalise import ip_normalise, url_clean
from leads.types import CaptureContext

logger = logging.getLogger(__name__)

# Enum .values builds a new list on every read; these are read on every capture.
PURPOSES = tuple(ConsentPurpose.values)
DECISIONS = tuple(ConsentRecord.Decision.values)

Decision = ConsentRecord.Decision

# Default wording, used when no version has been written for a purpose yet (post_migrate
# creates version 1 of each). Staff publish new versions in the admin.
DEFAULT_CONSENT_TEXTS = {
    ConsentPurpose.TERMS: (
        "I agree to the terms of service and have read the privacy notice, which explains who "
        "we are, what we do with my details and how to withdraw consent at any time."
    ),
    ConsentPurpose.MARKETING_EMAIL: (
        "Send me occasional emails about products and offers. I can stop them at any time with "
        "the link in every email."
    ),
    ConsentPurpose.SMS: (
        "Send me text messages about my enquiry and offers. I can stop them at any time by "
        "replying STOP or with the link in any message."
    ),
    ConsentPurpose.PROCESSING: (
        "Use my details to answer my enquiry and prepare an offer for me. I can ask you to "
        "erase them at any time."
    ),
}

DOUBLE_OPT_IN_SALT = "leads.double-opt-in"
WITHDRAWAL_SALT = "leads.withdrawal"


class ConsentLinkInvalid(Exception):
    """The link was altered, is for something else, or points at nothing."""


class ConsentLinkExpired(Exception):
    """A double opt-in link used after its expiry."""


def consent_text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Process-local caches. A ConsentText never changes (a trigger forbids it), so a pk always
# means the same words; "current" is re-read every few seconds, and at once in the process
# that publishes. A record always names the version actually rendered, so a briefly stale
# "current" can only show the previous wording, never record the wrong one. Only rows read
# outside a transaction are cached: they are committed and cannot be rolled back later.
CURRENT_TEXT_TTL_SECONDS = 5.0
_texts_by_pk: dict[int, ConsentText] = {}
_current_texts: dict[str, tuple[float, ConsentText]] = {}


def consent_text_caches_clear(**_kwargs) -> None:
    _texts_by_pk.clear()
    _current_texts.clear()


def consent_text_by_pk(pk: int) -> ConsentText | None:
    text = _texts_by_pk.get(pk)
    if text is None:
        text = ConsentText.objects.filter(pk=pk).first()
        if text is not None and len(_texts_by_pk) < 1000 and not connection.in_atomic_block:
            _texts_by_pk[pk] = text
    return text


def consent_text_publish(*, purpose: str, text: str, actor: Any = None) -> ConsentText:
    """Write a new version of the wording for `purpose`; it is shown from now on."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown consent purpose {purpose!r}")
    with transaction.atomic():
        # Serialise publishers per purpose so two versions never get the same number.
        last = (
            ConsentText.objects.select_for_update()
            .filter(purpose=purpose)
            .order_by("-version")
            .first()
        )
        published = ConsentText.objects.create(
            purpose=purpose,
            version=(last.version + 1) if last else 1,
            text=text,
            sha256=consent_text_sha256(text),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    _current_texts.pop(purpose, None)
    return published


def consent_texts_ensure_defaults(**_kwargs) -> None:
    """Version 1 of each purpose's wording, if none exists (post_migrate receiver)."""
    for purpose, text in DEFAULT_CONSENT_TEXTS.items():
        if not ConsentText.objects.filter(purpose=purpose).exists():
            consent_text_publish(purpose=purpose, text=text)


def consent_text_current(*, purpose: str) -> ConsentText:
    """The version to render next to a checkbox for `purpose` (the newest)."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown consent purpose {purpose!r}")
    return consent_texts_current(purposes=[purpose])[purpose]


def consent_texts_current(*, purposes: list[str]) -> dict[str, ConsentText]:
    """The newest version for each of `purposes` (one query at most)."""
    unknown = set(purposes) - set(PURPOSES)
    if unknown:
        raise ValueError(f"Unknown consent purposes {sorted(unknown)!r}")
    moment = time.monotonic()
    texts: dict[str, ConsentText] = {}
    stale = []
    for purpose in purposes:
        cached = _current_texts.get(purpose)
        if cached is not None and cached[0] > moment:
            texts[purpose] = cached[1]
        else:
            stale.append(purpose)
    if not stale:
        return texts
    fresh = {
        text.purpose: text
        for text in ConsentText.objects.filter(purpose__in=stale)
        .order_by("purpose", "-version")
        .distinct("purpose")
    }
    if len(fresh) < len(stale):
        consent_texts_ensure_defaults()
        return consent_texts_current(purposes=purposes)
    if not connection.in_atomic_block:
        for purpose, text in fresh.items():
            _current_texts[purpose] = (moment + CURRENT_TEXT_TTL_SECONDS, text)
    texts.update(fresh)
    return texts


def consent_subject_digest(email: str) -> str:
    """salted_hmac("leads.consent-subject", email, algorithm="sha256"), with its key (derived
    from SECRET_KEY) kept per process: every capture computes three of these chains."""
    return hmac.new(_subject_key(settings.SECRET_KEY), email.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4)
def _subject_key(secret: str) -> bytes:
    # What salted_hmac derives: sha256(key_salt + secret).
    return hashlib.sha256(("leads.consent-subject" + secret).encode()).digest()


# The canonical form every record hash covers: sorted keys, no spaces, text as typed. One
# encoder for all (json.dumps with these options builds a new one per call). Changing any of
# this changes every hash: the chain of every lead would no longer verify.
_HASH_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def consent_row_hash(row: dict[str, Any]) -> str:
    """SHA-256 over every evidential field and the previous record's hash. `row` holds the
    record's values by attribute name (lead_id, consent_text_id, actor_id for the relations)."""
    created_at = row["created_at"].astimezone(UTC).isoformat(timespec="microseconds")
    payload = {
        "lead": row["lead_id"],
        "sequence": row["sequence"],
        "purpose": row["purpose"],
        "decision": row["decision"],
        "method": row["method"],
        "consent_text": row["consent_text_id"],
        "text_sha256": row["text_sha256"],
        "subject_digest": row["subject_digest"],
        "created_at": created_at,
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "source_form": row["source_form"],
        "source_url": row["source_url"],
        "actor": row["actor_id"],
        "prev_hash": row["prev_hash"],
    }
    return hashlib.sha256(_HASH_JSON.encode(payload).encode("utf-8")).hexdigest()


_HASHED_ATTRIBUTES = (
    "lead_id",
    "sequence",
    "purpose",
    "decision",
    "method",
    "consent_text_id",
    "text_sha256",
    "subject_digest",
    "created_at",
    "ip",
    "user_agent",
    "source_form",
    "source_url",
    "actor_id",
    "prev_hash",
)


def consent_record_hash(record: ConsentRecord) -> str:
    """consent_row_hash for a ConsentRecord (stored or not)."""
    return consent_row_hash({name: getattr(record, name) for name in _HASHED_ATTRIBUTES})


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


def consent_rows_build(
    *,
    lead: Lead,
    entries: list[ConsentEntry],
    method: str,
    context: CaptureContext,
    actor: Any = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The next records of `lead`'s chain (its pk set), hashed, as rows: each record's values
    by attribute name, without a pk. Moves the lead's chain head, length and consent states on
    (the caller saves both: in the statement that creates the lead, or under the lead's row
    lock, as consent_records_append_locked does)."""
    if not entries:
        return []
    now = now or timezone.now()
    common = {
        "lead_id": lead.pk,
        "method": method,
        "subject_digest": consent_subject_digest(lead.email),
        "created_at": now,
        "ip": ip_normalise(context.ip),
        "user_agent": url_clean(context.user_agent or "", max_length=512),
        "source_form": url_clean(context.source_form or "", max_length=64),
        "source_url": url_clean(context.source_url or "", max_length=2000),
        "actor_id": actor.pk if getattr(actor, "pk", None) else None,
    }
    rows = []
    consents = dict(lead.consents)
    for entry in entries:
        row = {
            **common,
            "sequence": lead.consent_chain_length + 1,
            "purpose": entry.purpose,
            "decision": entry.decision,
            "consent_text_id": entry.consent_text.pk,
            "text_sha256": entry.consent_text.sha256,
            "prev_hash": lead.consent_chain_head,
        }
        row["record_hash"] = consent_row_hash(row)
        lead.consent_chain_length = row["sequence"]
        lead.consent_chain_head = row["record_hash"]
        consents[entry.purpose] = _state_after(consents.get(entry.purpose, ""), entry.decision)
        rows.append(row)
    lead.consents = consents
    return rows


def consent_records_append_locked(
    *,
    lead: Lead,
    entries: list[ConsentEntry],
    method: str,
    context: CaptureContext,
    actor: Any = None,
    now: datetime | None = None,
) -> list[ConsentRecord]:
    """Append records to `lead`'s chain. The caller holds the lead's row lock and saves `lead`
    (its chain head, length and consent states change here).

    The records are dated `now` (default: the time now, under the lock), but never before the
    chain's last record: a server whose clock is behind the one that wrote it must not make
    the chain's times go back."""
    if entries and lead.consent_chain_length:
        last_at = (
            ConsentRecord.objects.filter(lead_id=lead.pk, sequence=lead.consent_chain_length)
            .values_list("created_at", flat=True)
            .first()
        )
        now = now or timezone.now()
        if last_at is not None and last_at > now:
            now = last_at
    rows = consent_rows_build(
        lead=lead, entries=entries, method=method, context=context, actor=actor, now=now
    )
    records = []
    for entry, row in zip(entries, rows, strict=True):
        record = ConsentRecord(**row)
        record.lead, record.consent_text = lead, entry.consent_text
        records.append(record)
    # One INSERT for the lot; the unique (lead, sequence) constraint backs up the row lock.
    ConsentRecord.objects.bulk_create(records)
    return records


def _record_one_locked(
    locked: Lead,
    entry: ConsentEntry,
    *,
    context: CaptureContext,
    actor: Any,
    now: datetime | None,
) -> ConsentRecord:
    """One decision on the row-locked lead's chain, its readiness re-evaluated, both saved."""
    from leads.services.readiness import lead_readiness_apply

    (record,) = consent_records_append_locked(
        lead=locked, entries=[entry], method=context.method, context=context, actor=actor, now=now
    )
    lead_readiness_apply(lead=locked, now=now)
    locked.save()
    return record


def _lead_locked(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead.pk)


def _latest_text_for(lead: Lead, purpose: str) -> ConsentText:
    latest = (
        ConsentRecord.objects.filter(lead=lead, purpose=purpose)
        .select_related("consent_text")
        .order_by("-sequence")
        .first()
    )
    return latest.consent_text if latest else consent_text_current(purpose=purpose)


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
        locked = _lead_locked(lead)
        record = _record_one_locked(
            locked, ConsentEntry(purpose, decision, text), context=context, actor=actor, now=now
        )
    lead.refresh_from_db()
    return record


# Double opt-in ------------------------------------------------------------------------------


def consent_confirmation_open(*, lead: Lead, pending_record: ConsentRecord, now: datetime):
    """Create the confirmation request for a pending marketing consent (caller holds the lock)
    and send the email once the transaction commits. Suspected spam gets no email."""
    from leads.models import LeadStatus
    from leads.tasks import consent_confirmation_send_task

    confirmation = ConsentConfirmation.objects.create(
        lead=lead,
        pending_record=pending_record,
        created_at=now,
        expires_at=now + timedelta(hours=settings.LEADS_DOUBLE_OPT_IN_MAX_AGE_HOURS),
    )
    if lead.status != LeadStatus.SPAM:
        enqueue_on_commit(consent_confirmation_send_task, confirmation.pk)
    return confirmation


def consent_confirmation_token(confirmation: ConsentConfirmation) -> str:
    return signing.dumps({"c": confirmation.pk}, salt=DOUBLE_OPT_IN_SALT, compress=True)


def consent_confirmation_url(confirmation: ConsentConfirmation) -> str:
    path = reverse("leads:consent-confirm", args=[consent_confirmation_token(confirmation)])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def consent_confirmation_send(*, confirmation_id: int, now: datetime | None = None) -> bool:
    """Send the double opt-in email once. Returns False when there was nothing to send."""
    from leads.models import LeadStatus

    now = now or timezone.now()
    with transaction.atomic():
        confirmation = (
            ConsentConfirmation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead")
            .filter(pk=confirmation_id, sent_at__isnull=True, confirmed_at__isnull=True)
            .first()
        )
        if confirmation is None:
            return False
        lead = confirmation.lead
        if lead.status in {LeadStatus.SPAM, LeadStatus.ERASED} or confirmation.expires_at <= now:
            # Never mail suspected bots or erased people; mark it handled so it is not retried.
            confirmation.sent_at = now
            confirmation.save(update_fields=["sent_at"])
            return False
        confirmation.send_attempts += 1
        context = {
            "lead": lead,
            "confirm_url": consent_confirmation_url(confirmation),
            "expires_at": confirmation.expires_at,
            "PORTAL_NAME": settings.PORTAL_NAME,
        }
        message = EmailMessage(
            subject=f"Please confirm your email for {settings.PORTAL_NAME}",
            body=render_to_string("leads/email/double_opt_in.txt", context),
            to=[lead.email],
        )
        message.send()
        confirmation.sent_at = now
        confirmation.save(update_fields=["sent_at", "send_attempts"])
    return True


def consent_confirmation_from_token(token: str) -> ConsentConfirmation:
    try:
        data = signing.loads(token, salt=DOUBLE_OPT_IN_SALT)
        confirmation_id = int(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ConsentLinkInvalid from None
    confirmation = (
        ConsentConfirmation.objects.select_related("lead", "pending_record")
        .filter(pk=confirmation_id)
        .first()
    )
    if confirmation is None:
        raise ConsentLinkInvalid
    return confirmation


def consent_double_opt_in_confirm(
    *, token: str, context: CaptureContext, now: datetime | None = None
) -> ConsentConfirmation:
    """Record the confirmation behind a double opt-in link. Idempotent: a second click changes
    nothing. Raises ConsentLinkInvalid or ConsentLinkExpired."""
    from leads.models import LeadStatus
    from leads.services.readiness import lead_readiness_apply

    confirmation = consent_confirmation_from_token(token)
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=confirmation.lead_id)
        confirmation = ConsentConfirmation.objects.select_for_update().get(pk=confirmation.pk)
        now = now or timezone.now()  # under the lock, so the chain's times follow its order
        if confirmation.confirmed_at is not None:
            return confirmation
        if lead.status == LeadStatus.ERASED:
            raise ConsentLinkInvalid
        if confirmation.expires_at <= now:
            raise ConsentLinkExpired
        (record,) = consent_records_append_locked(
            lead=lead,
            entries=[
                ConsentEntry(
                    confirmation.pending_record.purpose,
                    Decision.GRANTED,
                    confirmation.pending_record.consent_text,
                )
            ],
            method=ConsentRecord.Method.DOUBLE_OPT_IN,
            context=context,
            now=now,
        )
        confirmation.confirmed_at = now
        confirmation.confirmed_record = record
        confirmation.save(update_fields=["confirmed_at", "confirmed_record"])
        lead_readiness_apply(lead=lead, now=now)
        lead.save()
    return confirmation


# Withdrawal ---------------------------------------------------------------------------------


def consent_withdrawal_token(*, lead: Lead, purpose: str) -> str:
    # No expiry: a withdrawal link in a years-old email must still work.
    return signing.dumps({"l": lead.pk, "p": purpose}, salt=WITHDRAWAL_SALT, compress=True)


def consent_withdrawal_url(*, lead: Lead, purpose: str) -> str:
    path = reverse(
        "leads:consent-withdraw", args=[consent_withdrawal_token(lead=lead, purpose=purpose)]
    )
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def consent_withdrawal_target(token: str) -> tuple[Lead, str]:
    try:
        data = signing.loads(token, salt=WITHDRAWAL_SALT)
        lead_id, purpose = int(data["l"]), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ConsentLinkInvalid from None
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None or purpose not in PURPOSES:
        raise ConsentLinkInvalid
    return lead, purpose


def consent_withdraw(
    *,
    lead: Lead,
    purpose: str,
    context: CaptureContext,
    actor: Any = None,
    now: datetime | None = None,
) -> ConsentRecord | None:
    """Record a withdrawal. Idempotent: nothing is added when the latest word is already a
    withdrawal. The record names the wording the person had agreed to."""

    with transaction.atomic():
        locked = _lead_locked(lead)
        if locked.consents.get(purpose) == ConsentState.WITHDRAWN:
            return None
        record = _record_one_locked(
            locked,
            ConsentEntry(purpose, Decision.WITHDRAWN, _latest_text_for(locked, purpose)),
            context=context,
            actor=actor,
            now=now,
        )
    lead.refresh_from_db()
    return record


def marketing_email_build(
    *, lead: Lead, subject: str, body: str, from_email: str | None = None
) -> EmailMessage:
    """A marketing email for `lead`, with a one-click withdrawal link in the body and in the
    List-Unsubscribe headers (RFC 8058). Refuses when marketing email is not granted."""
    if lead.consents.get(ConsentPurpose.MARKETING_EMAIL) != ConsentState.GRANTED:
        raise PermissionError("This person has not confirmed marketing email consent.")
    url = consent_withdrawal_url(lead=lead, purpose=ConsentPurpose.MARKETING_EMAIL)
    footer = render_to_string("leads/email/marketing_footer.txt", {"withdraw_url": url})
    return EmailMessage(
        subject=subject,
        body=f"{body.rstrip()}\n\n{footer}",
        from_email=from_email,
        to=[lead.email],
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
