"""Fraud controls at checkout.

Velocity is counted from our own Payment rows in Postgres (failed checkout attempts per email, IP
and card in a window) rather than from a cache counter: the rows are the evidence staff review,
they survive a Redis flush, and the count cannot drift from what actually happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from payments.models import Payment

# Radar levels that put an order in front of staff, whatever the score.
REVIEW_RISK_LEVELS = {"elevated", "highest"}


@dataclass(frozen=True)
class VelocityResult:
    blocked: bool
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def card_key(*, brand: str, last4: str, exp_month: Any, exp_year: Any) -> str:
    """A stand-in for Stripe's card fingerprint, which localstripe does not provide."""
    if not last4:
        return ""
    return f"{(brand or '').lower()}:{last4}:{exp_month or ''}/{exp_year or ''}"


def checkout_velocity_check(
    *, email: str, ip: str | None, card: str = "", now: datetime | None = None
) -> VelocityResult:
    """Blocked when failed attempts in the window reached a limit for the email, IP or card."""
    since = (now or timezone.now()) - timedelta(seconds=settings.CHECKOUT_VELOCITY_WINDOW_SECONDS)
    failed = Payment.objects.filter(
        status=Payment.Status.FAILED,
        attempt_kind=Payment.AttemptKind.CHECKOUT,
        created_at__gte=since,
    )
    checks = [
        ("email", email and failed.filter(metadata__buyer_email=email.strip().lower()),
         settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_EMAIL),
        ("ip", ip and failed.filter(metadata__buyer_ip=ip),
         settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_IP),
        ("card", card and failed.filter(metadata__card_key=card),
         settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD),
    ]  # fmt: skip
    counts: dict[str, int] = {}
    for name, queryset, limit in checks:
        if not queryset:
            continue
        counts[name] = queryset.count()
        if counts[name] >= limit:
            return VelocityResult(
                blocked=True,
                reason=f"{counts[name]} failed card attempts for this {name} "
                f"in the last {settings.CHECKOUT_VELOCITY_WINDOW_SECONDS // 60} minutes",
                counts=counts,
            )
    return VelocityResult(blocked=False, counts=counts)


def payment_risk_needs_review(*, payment: Payment) -> str:
    """Why Radar's verdict on this payment needs a person, or "" when it does not."""
    if payment.risk_level in REVIEW_RISK_LEVELS:
        return f"Radar risk level {payment.risk_level}"
    if (
        payment.risk_score is not None
        and payment.risk_score >= settings.CHECKOUT_RADAR_REVIEW_SCORE
    ):
        return f"Radar risk score {payment.risk_score}"
    return ""
