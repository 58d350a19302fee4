"""Payment links: /pay/<token>/ for one case and amount.

The token is 32 random bytes (URL-safe base64); only its sha256 is stored, so the database
alone cannot open a link. A link works until it expires (DUNNING_LINK_TTL_DAYS), until a payment
made through it succeeds (single use), or until its case closes, whichever comes first.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.urls import reverse

from dunning.models import DunningCase, PaymentLink, PaymentLinkClick
from dunning.selectors import case_amount_owed

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class LinkState:
    USABLE = "usable"
    EXPIRED = "expired"
    USED = "used"
    CLOSED = "closed"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def payment_link_create(
    *, case: DunningCase, now: datetime, created_by=None, sent_in: str = ""
) -> tuple[PaymentLink, str]:
    """A new link for what the case owes now. Returns the row and the token (never stored)."""
    token = secrets.token_urlsafe(32)
    amount = case_amount_owed(order=case.order, cause=case.cause) or case.amount
    link = PaymentLink.objects.create(
        case=case,
        token_hash=_token_hash(token),
        amount=amount,
        currency=case.currency,
        created_at=now,
        expires_at=now + timedelta(days=settings.DUNNING_LINK_TTL_DAYS),
        created_by=created_by if getattr(created_by, "pk", None) else None,
        sent_in=sent_in,
    )
    return link, token


def payment_link_url(token: str) -> str:
    path = reverse("dunning:pay", kwargs={"token": token})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def payment_link_find(*, token: str) -> PaymentLink | None:
    """The link for a token, or None (malformed or unknown: both look the same to the caller)."""
    if not _TOKEN.match(token or ""):
        return None
    return (
        PaymentLink.objects.select_related("case__order__offer", "case__customer")
        .filter(token_hash=_token_hash(token))
        .first()
    )


def payment_link_state(*, link: PaymentLink, now: datetime) -> str:
    if link.used_at is not None:
        return LinkState.USED
    if link.case.is_closed or link.case.status not in (
        DunningCase.Status.OPEN,
        DunningCase.Status.RETRY_SCHEDULED,
        DunningCase.Status.AWAITING_CUSTOMER,
        DunningCase.Status.ESCALATED,
    ):
        return LinkState.CLOSED
    if now >= link.expires_at:
        return LinkState.EXPIRED
    return LinkState.USABLE


def payment_link_click_record(
    *, link: PaymentLink, now: datetime, outcome: str, user_agent: str = ""
) -> None:
    """Count one opening of the link (staff see clicks in the triage queue)."""
    PaymentLink.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1, last_clicked_at=now)
    PaymentLinkClick.objects.create(
        link=link, clicked_at=now, outcome=outcome, user_agent=(user_agent or "")[:200]
    )
