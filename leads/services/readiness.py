"""Payment readiness: is this lead ready to be sent a checkout link, and if not, why not."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.audit import audit_log_record
from config.celery import enqueue_on_commit
from leads.models import (
    ConsentPurpose,
    ConsentState,
    Lead,
    LeadStatus,
    ReadinessPolicy,
    TenderType,
)
from leads.normalise import country_name
from leads.risk import lead_risk_factors, risk_total
from leads.tasks import leads_readiness_reevaluate_task
from leads.types import ReadinessResult

DEFAULT_POLICY = {
    "name": "Default",
    "required_consents": [ConsentPurpose.TERMS.value],
    "allowed_billing_countries": [],
    "max_risk_score": 50,
    "accepted_tender_types": [
        TenderType.CARD.value,
        TenderType.SEPA_DEBIT.value,
        TenderType.BANK_TRANSFER.value,
    ],
}


def readiness_policy_ensure_default(**_kwargs) -> None:
    """A default active policy when none exists (post_migrate receiver)."""
    if not ReadinessPolicy.objects.exists():
        ReadinessPolicy.objects.create(is_active=True, **DEFAULT_POLICY)


def readiness_policy_active() -> ReadinessPolicy:
    policy = ReadinessPolicy.objects.filter(is_active=True).first()
    # With no active policy every lead is judged by the defaults rather than by nothing.
    return policy or ReadinessPolicy(is_active=True, **DEFAULT_POLICY)


def lead_readiness(
    *, lead: Lead, policy: ReadinessPolicy | None = None, ip_country: str | None = None
) -> ReadinessResult:
    """Evaluate `lead` against the active policy. Reads only; see lead_readiness_refresh.

    `ip_country` is the last touch's, when the caller has it at hand (else it is read from
    lead.last_touch)."""
    policy = policy or readiness_policy_active()
    if ip_country is None:
        last_touch = lead.last_touch if lead.last_touch_id else None
        ip_country = last_touch.ip_country if last_touch else ""
    factors = [
        factor.as_dict()
        for factor in lead_risk_factors(
            email=lead.email, country=lead.country, phone=lead.phone, ip_country=ip_country
        )
    ] + list(lead.submission_risk_factors)
    score = risk_total(factors)

    checklist: list[tuple[str, bool]] = []
    for purpose in policy.required_consents:
        label = ConsentPurpose(purpose).label
        state = lead.consents.get(purpose, "")
        item = f"Consent given: {label}"
        if state == ConsentState.PENDING:
            item += " (waiting for email confirmation)"
        elif state == ConsentState.WITHDRAWN:
            item += " (withdrawn)"
        checklist.append((item, state == ConsentState.GRANTED))
    if policy.allowed_billing_countries:
        allowed = {code.upper() for code in policy.allowed_billing_countries}
        where = country_name(lead.country) if lead.country else "not known"
        checklist.append((f"Billing country is one we sell to ({where})", lead.country in allowed))
    else:
        checklist.append(("Billing country is known", bool(lead.country)))
    checklist.append(
        (f"Risk score {score} is at most {policy.max_risk_score}", score <= policy.max_risk_score)
    )
    tender = TenderType(lead.preferred_tender).label if lead.preferred_tender else "not known"
    accepted = set(policy.accepted_tender_types)
    checklist.append(
        (
            f"Pays by a method we accept ({tender})",
            not accepted or lead.preferred_tender in accepted,
        )
    )
    checklist.append(
        (
            "Not suspected spam and not erased",
            lead.status not in {LeadStatus.SPAM, LeadStatus.ERASED},
        )
    )
    return ReadinessResult(
        ready=all(ok for _, ok in checklist),
        checklist=checklist,
        risk_score=score,
        risk_factors=factors,
    )


def lead_readiness_apply(
    *,
    lead: Lead,
    now: datetime | None = None,
    policy: ReadinessPolicy | None = None,
    ip_country: str | None = None,
) -> ReadinessResult:
    """Evaluate and copy the result onto `lead` without saving (the caller saves)."""
    result = lead_readiness(lead=lead, policy=policy, ip_country=ip_country)
    lead.is_ready = result.ready
    lead.readiness_checklist = [[label, ok] for label, ok in result.checklist]
    lead.risk_score = result.risk_score
    lead.risk_factors = result.risk_factors
    lead.readiness_evaluated_at = now or timezone.now()
    return result


def lead_readiness_refresh(*, lead: Lead, policy: ReadinessPolicy | None = None) -> ReadinessResult:
    """Re-evaluate and store readiness for one lead (locks it)."""
    with transaction.atomic():
        locked = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("last_touch")
            .get(pk=lead.pk)
        )
        result = lead_readiness_apply(lead=locked, policy=policy)
        locked.save(
            update_fields=[
                "is_ready",
                "readiness_checklist",
                "risk_score",
                "risk_factors",
                "readiness_evaluated_at",
                "updated_at",
            ]
        )
    lead.refresh_from_db()
    return result


def leads_readiness_reevaluate_all(*, batch_size: int = 500) -> int:
    """Re-evaluate every lead that is not erased (after the policy changed)."""
    policy = readiness_policy_active()
    count = 0
    ids = Lead.objects.exclude(status=LeadStatus.ERASED).values_list("pk", flat=True)
    for lead_id in ids.iterator(chunk_size=batch_size):
        lead_readiness_refresh(lead=Lead(pk=lead_id), policy=policy)
        count += 1
    return count


def readiness_policy_save(*, policy: ReadinessPolicy, actor: Any = None) -> ReadinessPolicy:
    """Save a policy edit, then re-evaluate every lead in the background."""
    with transaction.atomic():
        if policy.is_active:
            # One active policy (a partial unique index): activating this one retires the rest.
            ReadinessPolicy.objects.filter(is_active=True).exclude(pk=policy.pk).update(
                is_active=False
            )
        policy.allowed_billing_countries = sorted(
            {code.strip().upper() for code in policy.allowed_billing_countries if code.strip()}
        )
        policy.updated_by = actor if getattr(actor, "pk", None) else None
        policy.save()
        audit_log_record(
            actor=actor,
            action="leads.readiness_policy_saved",
            target=policy,
            detail={
                "required_consents": policy.required_consents,
                "allowed_billing_countries": policy.allowed_billing_countries,
                "max_risk_score": policy.max_risk_score,
                "accepted_tender_types": policy.accepted_tender_types,
            },
        )
        enqueue_on_commit(leads_readiness_reevaluate_task)
    return policy
