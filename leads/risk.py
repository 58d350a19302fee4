"""Explainable risk rules. Each rule that fires adds its points and says why, in words a
salesperson understands; the lead keeps every contribution (Lead.risk_factors)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from leads.normalise import country_name, email_domain, phone_country

# Well-known throwaway-inbox domains. Extend with LEADS_DISPOSABLE_EMAIL_DOMAINS_EXTRA.
DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "10minutemail.com",
        "20minutemail.com",
        "33mail.com",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.biz",
        "guerrillamail.com",
        "guerrillamail.de",
        "guerrillamail.net",
        "guerrillamail.org",
        "guerrillamailblock.com",
        "harakirimail.com",
        "maildrop.cc",
        "mailinator.com",
        "mailinator.net",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "mytemp.email",
        "sharklasers.com",
        "spamgourmet.com",
        "temp-mail.org",
        "tempail.com",
        "tempmail.com",
        "tempmailo.com",
        "tempr.email",
        "throwawaymail.com",
        "trashmail.com",
        "trashmail.de",
        "yopmail.com",
        "yopmail.fr",
        "yopmail.net",
    }
)


@dataclass(frozen=True)
class RiskFactor:
    rule: str
    points: int
    reason: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "points": self.points, "reason": self.reason}


def _points(rule: str) -> int:
    return int(settings.LEADS_RISK_POINTS.get(rule, 0))


def risk_total(factors: list[dict]) -> int:
    return sum(int(factor["points"]) for factor in factors)


def is_disposable_domain(domain: str) -> bool:
    domain = domain.lower()
    extra = {d.lower() for d in settings.LEADS_DISPOSABLE_EMAIL_DOMAINS_EXTRA}
    parts = domain.split(".")
    # Subdomains of a disposable domain count too (x.mailinator.com).
    candidates = {".".join(parts[i:]) for i in range(len(parts) - 1)}
    return bool(candidates & (DISPOSABLE_EMAIL_DOMAINS | extra))


@dataclass(frozen=True)
class Velocity:
    """Submissions from the client within LEADS_VELOCITY_WINDOW_SECONDS and for the email within
    LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS (an hour each by default), this one included; None when
    not known (no IP, or the cache could not be reached)."""

    ip: int | None
    email: int | None


UNKNOWN_VELOCITY = Velocity(ip=None, email=None)


def submission_risk_factors(
    *,
    honeypot: str,
    started_at: datetime | None,
    now: datetime,
    velocity: Velocity,
) -> list[RiskFactor]:
    """Rules about one submission; `velocity` is its count (leads.throttling)."""
    factors: list[RiskFactor] = []
    if honeypot.strip():
        factors.append(
            RiskFactor(
                "honeypot",
                _points("honeypot"),
                "A hidden field that people never see was filled in (typical of bots).",
            )
        )
    if started_at is not None:
        seconds = (now - started_at).total_seconds()
        minimum = settings.LEADS_MIN_FILL_SECONDS
        if seconds < minimum:
            factors.append(
                RiskFactor(
                    "too_fast",
                    _points("too_fast"),
                    f"The form was sent {max(seconds, 0):.1f} s after it was shown "
                    f"(people take at least {minimum:g} s).",
                )
            )
    if velocity.ip is not None and velocity.ip > settings.LEADS_VELOCITY_IP_THRESHOLD:
        factors.append(
            RiskFactor(
                "ip_velocity",
                _points("ip_velocity"),
                f"{velocity.ip} submissions from this IP address within the hour "
                f"(more than {settings.LEADS_VELOCITY_IP_THRESHOLD} is unusual).",
            )
        )
    if velocity.email is not None and velocity.email > settings.LEADS_VELOCITY_EMAIL_THRESHOLD:
        factors.append(
            RiskFactor(
                "email_velocity",
                _points("email_velocity"),
                f"{velocity.email} submissions for this email address within the hour "
                f"(more than {settings.LEADS_VELOCITY_EMAIL_THRESHOLD} is unusual).",
            )
        )
    return factors


def lead_risk_factors(*, email: str, country: str, phone: str, ip_country: str) -> list[RiskFactor]:
    """Rules about the person as we know them now; re-run whenever their details change."""
    factors: list[RiskFactor] = []
    domain = email_domain(email)
    if is_disposable_domain(domain):
        factors.append(
            RiskFactor(
                "disposable_email",
                _points("disposable_email"),
                f"{domain} hands out throwaway inboxes.",
            )
        )
    phone_region = phone_country(phone)
    if country and phone_region and phone_region != country:
        factors.append(
            RiskFactor(
                "country_mismatch_phone",
                _points("country_mismatch_phone"),
                f"The phone number is from {country_name(phone_region)}, "
                f"the chosen country is {country_name(country)}.",
            )
        )
    if country and ip_country and ip_country != country:
        factors.append(
            RiskFactor(
                "country_mismatch_ip",
                _points("country_mismatch_ip"),
                f"The visit came from {country_name(ip_country)}, "
                f"the chosen country is {country_name(country)}.",
            )
        )
    return factors
