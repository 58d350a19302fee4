"""Abuse limits for public lead submissions (the form and the JSON API) and the velocity that
risk scoring reads, on django-ratelimit through config.limits (one call per counter).

Every limit fails open: with the cache down, the submission is stored without them, and once
one counter has failed the rest of the submission's are not tried (each would wait out the
cache's socket timeout again).
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest

from config.http import ip_network
from config.limits import client_key, limit_usage
from leads.risk import Velocity

TOO_MANY_FROM_HERE = (
    "You have sent this form several times in a short while. Please wait a minute, then try again."
)
TOO_MANY_FOR_EMAIL = (
    "We have had several submissions for this email address recently. Please wait a while, "
    "or write to us directly."
)


class SubmissionRefused(Exception):
    """Over an abuse limit: answer 429 with `message` and write nothing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _email_key(email: str) -> str:
    # Hashed: no addresses in Redis keys.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def lead_submission_ip_check(request: HttpRequest) -> bool:
    """Count one POST from the client (valid or not) against LEADS_RATE_LIMIT_PER_IP.
    Raises SubmissionRefused over the limit; False when the cache cannot be reached."""
    rate = (settings.LEADS_RATE_LIMIT_PER_IP, settings.LEADS_RATE_LIMIT_IP_WINDOW_SECONDS)
    count = limit_usage(request, group="leads.submit.ip", key=client_key, rate=rate)
    if count is not None and count > rate[0]:
        raise SubmissionRefused(TOO_MANY_FROM_HERE)
    return count is not None


def lead_submission_count(*, ip: str | None, email: str) -> Velocity:
    """Count one valid submission (velocity_count) and refuse it (SubmissionRefused) over
    LEADS_RATE_LIMIT_PER_EMAIL; the velocity, unknown when the cache cannot be reached. `ip` is
    the client's address as capture records it."""
    velocity = velocity_count(ip=ip, email=email)
    if velocity.email is not None and velocity.email > settings.LEADS_RATE_LIMIT_PER_EMAIL:
        raise SubmissionRefused(TOO_MANY_FOR_EMAIL)
    return velocity


def velocity_count(*, ip: str | None, email: str) -> Velocity:
    """Count one submission for `email` (the counter LEADS_RATE_LIMIT_PER_EMAIL limits, per
    LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS) and for the client (per
    LEADS_VELOCITY_WINDOW_SECONDS), and return both counts, this one included."""
    rate = (settings.LEADS_RATE_LIMIT_PER_EMAIL, settings.LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS)
    by_email = limit_usage(None, group="leads.submit.email", key=_email_key(email), rate=rate)
    if by_email is None or ip is None:
        return Velocity(ip=None, email=by_email)
    rate = (settings.LEADS_VELOCITY_IP_THRESHOLD, settings.LEADS_VELOCITY_WINDOW_SECONDS)
    by_ip = limit_usage(None, group="leads.velocity.ip", key=ip_network(ip), rate=rate)
    return Velocity(ip=by_ip, email=by_email)
