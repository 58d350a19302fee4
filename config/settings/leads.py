"""Lead capture, consent, readiness, routing and first-response SLAs (leads app)."""

from datetime import date

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def _env_dates(name: str) -> list[date]:
    """A comma-separated list of ISO dates; a bad one stops startup with the value named."""
    dates = []
    for value in env.list(name, default=[]):
        try:
            dates.append(date.fromisoformat(value.strip()))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} has {value!r}, which is not a date; write each one as YYYY-MM-DD, "
                "separated by commas (e.g. 2026-12-25,2026-12-28)."
            ) from None
    return dates


# Abuse limits on the public lead form and POST /api/v1/leads/ (answered with 429).
LEADS_RATE_LIMIT_PER_IP = env.int("LEADS_RATE_LIMIT_PER_IP", default=5)
LEADS_RATE_LIMIT_IP_WINDOW_SECONDS = env.int("LEADS_RATE_LIMIT_IP_WINDOW_SECONDS", default=60)
LEADS_RATE_LIMIT_PER_EMAIL = env.int("LEADS_RATE_LIMIT_PER_EMAIL", default=5)
LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS = env.int(
    "LEADS_RATE_LIMIT_EMAIL_WINDOW_SECONDS", default=3600
)
# The largest body POST /api/v1/leads/ reads, in bytes; a larger one is answered 413 before it is
# parsed. A real submission is under 2 kB and the longest the serializer accepts (every field at
# its max_length, in ASCII) about 25 kB; Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, sized for
# Stripe's webhooks) would otherwise let JSON of that size be parsed on a public endpoint.
LEADS_API_MAX_BODY_BYTES = env.int("LEADS_API_MAX_BODY_BYTES", default=64 * 1024)
# A request header set by the CDN with the visitor's country, e.g. CF-IPCountry. Empty = none.
LEADS_GEO_COUNTRY_HEADER = env("LEADS_GEO_COUNTRY_HEADER", default="")
# Used when neither the geo header nor the browser language names a country.
LEADS_DEFAULT_COUNTRY = env("LEADS_DEFAULT_COUNTRY", default="GB")

# Bots: a submission faster than this after the form was shown scores as too fast.
LEADS_MIN_FILL_SECONDS = env.float("LEADS_MIN_FILL_SECONDS", default=2.0)
# Explainable risk rules: points each rule adds to a lead's risk score.
LEADS_RISK_POINTS = {
    "honeypot": 100,
    "too_fast": 40,
    "disposable_email": 30,
    "ip_velocity": 25,
    "email_velocity": 20,
    "country_mismatch_phone": 15,
    "country_mismatch_ip": 15,
}
LEADS_VELOCITY_WINDOW_SECONDS = 3600
LEADS_VELOCITY_IP_THRESHOLD = env.int("LEADS_VELOCITY_IP_THRESHOLD", default=3)
LEADS_VELOCITY_EMAIL_THRESHOLD = env.int("LEADS_VELOCITY_EMAIL_THRESHOLD", default=3)
# At or above this score a lead is quarantined as spam: no owner, no SLA, no emails.
LEADS_SPAM_RISK_SCORE = env.int("LEADS_SPAM_RISK_SCORE", default=100)
LEADS_DISPOSABLE_EMAIL_DOMAINS_EXTRA = env.list("LEADS_DISPOSABLE_EMAIL_DOMAINS_EXTRA", default=[])

# Intake (routing, the double opt-in email) runs in a worker right after capture; the sweeper
# picks up a lead still waiting this long after capture (its enqueue was lost).
LEADS_INTAKE_SWEEP_AFTER_SECONDS = env.int("LEADS_INTAKE_SWEEP_AFTER_SECONDS", default=30)

# Double opt-in for marketing email: how long the confirmation link works.
LEADS_DOUBLE_OPT_IN_MAX_AGE_HOURS = env.int("LEADS_DOUBLE_OPT_IN_MAX_AGE_HOURS", default=72)

# First-response SLA, counted in business time.
LEADS_SLA_TIME_ZONE = env("LEADS_SLA_TIME_ZONE", default="Europe/London")
LEADS_SLA_BUSINESS_DAYS = env.list("LEADS_SLA_BUSINESS_DAYS", cast=int, default=[0, 1, 2, 3, 4])
LEADS_SLA_BUSINESS_HOURS = (
    env("LEADS_SLA_BUSINESS_START", default="09:00"),
    env("LEADS_SLA_BUSINESS_END", default="17:30"),
)
# Public holidays: whole days (in LEADS_SLA_TIME_ZONE) that are not business time, e.g.
# "2026-12-25,2026-12-28". Empty means none.
LEADS_SLA_HOLIDAYS = _env_dates("LEADS_SLA_HOLIDAYS")
LEADS_SLA_FIRST_RESPONSE_MINUTES = env.int("LEADS_SLA_FIRST_RESPONSE_MINUTES", default=120)
# The escalation ladder: "action:business minutes after the due time", in order. Actions are
# notify_owner, notify_team_lead and reassign.
LEADS_SLA_LADDER = [
    (step.split(":")[0], int(step.split(":")[1]))
    for step in env.list(
        "LEADS_SLA_LADDER", default=["notify_owner:0", "notify_team_lead:60", "reassign:240"]
    )
]
# Each reassignment restarts the ladder for the new owner. After this many, the reassign step
# tells the Sales team instead, and the ladder ends (no endless pass-the-parcel).
LEADS_SLA_MAX_REASSIGNMENTS = env.int("LEADS_SLA_MAX_REASSIGNMENTS", default=2)
LEADS_SLA_SWEEP_BATCH = 200
