"""Abuse limits for public lead submissions (the form and the JSON API), on config.ratelimit."""

import hashlib
from dataclasses import dataclass

from django.conf import settings

from config.ratelimit import CountsInFlight, ratelimit_hit, ratelimit_usage_many_begin
from leads.risk import Velocity, velocity_counters, velocity_from_counts

TOO_MANY_FROM_HERE = (
    "You have sent this form several times in a short while. Please wait a minute, then try again."
)
TOO_MANY_FOR_EMAIL = (
    "We have had several submissions for this email address recently. Please wait a while, "
    "or write to us directly."
)


def _ip_counter(ip: str | None) -> tuple[str, int]:
    return f"leads:submit:ip:{ip or 'unknown'}", settings.LEADS_RATE_LIMIT_IP_WINDOW_SECONDS


def _email_counter(email: str) -> tuple[str, int]:
    # Hashed: no addresses in Redis keys.
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return f"leads:submit:email:{digest}", settings.LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS


def lead_submission_ip_allowed(*, ip: str | None) -> bool:
    key, window = _ip_counter(ip)
    return ratelimit_hit(key=key, limit=settings.LEADS_RATE_LIMIT_PER_IP, window_seconds=window)


def lead_submission_email_allowed(*, email: str) -> bool:
    key, window = _email_counter(email)
    return ratelimit_hit(key=key, limit=settings.LEADS_RATE_LIMIT_PER_EMAIL, window_seconds=window)


class SubmissionRefused(Exception):
    """Over an abuse limit: answer 429 with `message` and write nothing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SubmissionCount:
    ip_allowed: bool
    email_allowed: bool
    velocity: Velocity

    def velocity_within_limits(self) -> Velocity:
        """The velocity, or SubmissionRefused (the IP's limit first, then the email's)."""
        if not self.ip_allowed:
            raise SubmissionRefused(TOO_MANY_FROM_HERE)
        if not self.email_allowed:
            raise SubmissionRefused(TOO_MANY_FOR_EMAIL)
        return self.velocity


def lead_submission_count_begin(
    *, ip: str | None, email: str, count_ip: bool = True
) -> "SubmissionCounting":
    """Count one valid submission against the abuse limits and the risk velocity counters, in
    one Redis round trip, sent now and read later: the form and the API send it, capture builds
    the lead's rows while Redis answers, then reads it (lead_capture's velocity). `count_ip=False`
    when the IP's hit was already counted (by lead_submission_ip_allowed). Use it as a context
    manager, so an answer that is never read is discarded."""
    counters = [_email_counter(email), *velocity_counters(ip=ip, email=email)]
    if count_ip:
        counters.insert(0, _ip_counter(ip))
    return SubmissionCounting(
        ratelimit_usage_many_begin(counters=counters), ip=ip, count_ip=count_ip
    )


class SubmissionCounting:
    """A submission's count in flight (lead_submission_count_begin); `.result()` reads it."""

    def __init__(self, counting: CountsInFlight, *, ip: str | None, count_ip: bool) -> None:
        self._counting = counting
        self._ip = ip
        self._count_ip = count_ip

    def result(self) -> SubmissionCount:
        counts = list(self._counting.result())
        ip_allowed = counts.pop(0) <= settings.LEADS_RATE_LIMIT_PER_IP if self._count_ip else True
        return SubmissionCount(
            ip_allowed=ip_allowed,
            email_allowed=counts[0] <= settings.LEADS_RATE_LIMIT_PER_EMAIL,
            velocity=velocity_from_counts(ip=self._ip, counts=counts[1:]),
        )

    def velocity_within_limits(self) -> Velocity:
        """The submission's velocity, for lead_capture; SubmissionRefused over a limit."""
        return self.result().velocity_within_limits()

    def __enter__(self) -> "SubmissionCounting":
        return self

    def __exit__(self, *_exc) -> None:
        self._counting.close()
