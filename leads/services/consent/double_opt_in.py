"""Double opt-in for marketing email: the confirmation request, its email, and the click."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.celery import enqueue_on_commit
from leads.models import ConsentConfirmation, ConsentRecord, Lead, LeadStatus
from leads.services.consent.ledger import ConsentEntry, consent_records_append_locked
from leads.services.readiness import lead_readiness_apply
from leads.tasks import consent_confirmation_send_task
from leads.types import CaptureContext

DOUBLE_OPT_IN_SALT = "leads.double-opt-in"


class ConsentLinkInvalid(Exception):
    """The link was altered, is for something else, or points at nothing."""


class ConsentLinkExpired(Exception):
    """A double opt-in link used after its expiry."""


def consent_confirmation_open(
    *, lead: Lead, pending_record: ConsentRecord, now: datetime
) -> ConsentConfirmation:
    """Create the confirmation request for a pending marketing consent (caller holds the lock)
    and send the email once the transaction commits. Suspected spam gets no email."""
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
        EmailMessage(
            subject=f"Please confirm your email for {settings.PORTAL_NAME}",
            body=render_to_string("leads/email/double_opt_in.txt", context),
            to=[lead.email],
        ).send()
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
        pending = confirmation.pending_record
        (record,) = consent_records_append_locked(
            lead=lead,
            entries=[
                ConsentEntry(pending.purpose, ConsentRecord.Decision.GRANTED, pending.consent_text)
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
