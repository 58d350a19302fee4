"""Withdrawal: the link in every marketing message, and the marketing email that carries it."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from leads.models import ConsentPurpose, ConsentRecord, ConsentState, Lead
from leads.services.consent.double_opt_in import ConsentLinkInvalid
from leads.services.consent.ledger import (
    ConsentEntry,
    consent_latest_text,
    consent_record_append_locked,
)
from leads.services.consent.texts import PURPOSES
from leads.types import CaptureContext

WITHDRAWAL_SALT = "leads.withdrawal"


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
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.consents.get(purpose) == ConsentState.WITHDRAWN:
            return None
        text = consent_latest_text(lead=locked, purpose=purpose)
        record = consent_record_append_locked(
            lead=locked,
            entry=ConsentEntry(purpose, ConsentRecord.Decision.WITHDRAWN, text),
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
