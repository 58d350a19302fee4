"""Abuse limits for public lead submissions (the form and the JSON API), on config.ratelimit."""

import hashlib

from django.conf import settings

from config.ratelimit import ratelimit_hit

TOO_MANY_FROM_HERE = (
    "You have sent this form several times in a short while. Please wait a minute, then try again."
)
TOO_MANY_FOR_EMAIL = (
    "We have had several submissions for this email address recently. Please wait a while, "
    "or write to us directly."
)


def lead_submission_ip_allowed(*, ip: str | None) -> bool:
    return ratelimit_hit(
        key=f"leads:submit:ip:{ip or 'unknown'}",
        limit=settings.LEADS_RATE_LIMIT_PER_IP,
        window_seconds=settings.LEADS_RATE_LIMIT_IP_WINDOW_SECONDS,
    )


def lead_submission_email_allowed(*, email: str) -> bool:
    # Hashed: no addresses in Redis keys.
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return ratelimit_hit(
        key=f"leads:submit:email:{digest}",
        limit=settings.LEADS_RATE_LIMIT_PER_EMAIL,
        window_seconds=settings.LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS,
    )
