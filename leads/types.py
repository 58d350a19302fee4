"""Value types of the leads API (re-exported by leads.services)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CaptureContext:
    """Where and how a submission or consent decision happened: the consent evidence."""

    ip: str | None
    user_agent: str
    source_form: str  # e.g. "lead_form", "api", "checkout"
    source_url: str
    method: str  # a ConsentRecord.Method value: form, api, double_opt_in, admin, withdrawal_link
    # The visitor's country as the CDN saw it (LEADS_GEO_COUNTRY_HEADER); "" when unknown.
    ip_country: str = ""


@dataclass(frozen=True)
class ReadinessResult:
    ready: bool
    checklist: list[tuple[str, bool]]
    risk_score: int
    risk_factors: list[dict] = field(default_factory=list)
