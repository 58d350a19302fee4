"""Which policy follows an order, and the default policy and copy (made by migration, or on
first use after a test flush)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from dunning.defaults import DEFAULT_POLICY, DEFAULT_STEPS, DEFAULT_TEMPLATES
from dunning.models import DunningMessageTemplate, DunningPolicy, DunningPolicyStep


def dunning_policy_default_ensure() -> DunningPolicy:
    """The default policy, with its steps. Idempotent and safe under concurrency."""
    policy = DunningPolicy.objects.filter(is_default=True).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            policy = DunningPolicy.objects.create(**DEFAULT_POLICY)
            DunningPolicyStep.objects.bulk_create(
                DunningPolicyStep(
                    policy=policy, position=n, offset=offset, action=action, template=template
                )
                for n, (offset, action, template) in enumerate(DEFAULT_STEPS)
            )
    except IntegrityError:
        policy = DunningPolicy.objects.get(is_default=True)
    return policy


def dunning_policy_for(*, offer) -> DunningPolicy | None:
    """The active policy for an offer (its own, else the default), or None: not followed.

    Refundable holds are never dunned: a hold only reserves money, and a retry would charge it.
    """
    if offer.billing_type == "hold":
        return None
    policy = DunningPolicy.objects.filter(offer=offer).first() or dunning_policy_default_ensure()
    return policy if policy.is_active else None


def dunning_policy_follows(*, offer) -> bool:
    """Read-only twin of dunning_policy_for (the checkout hook runs under checkout's locks)."""
    if offer.billing_type == "hold":
        return False
    policy = DunningPolicy.objects.filter(offer=offer).first()
    if policy is None:
        policy = DunningPolicy.objects.filter(is_default=True).first()
    # No default row yet (a fresh database before first use): the default is active.
    return policy is None or policy.is_active


def dunning_templates_ensure() -> None:
    """Write the default copy for every template key and language that has none."""
    have = set(DunningMessageTemplate.objects.values_list("key", "language"))
    missing = [
        DunningMessageTemplate(key=key, language=language, **copy)
        for (key, language), copy in DEFAULT_TEMPLATES.items()
        if (key, language) not in have
    ]
    if missing:
        DunningMessageTemplate.objects.bulk_create(missing, ignore_conflicts=True)


def dunning_template_get(*, key: str, language: str) -> DunningMessageTemplate:
    """The editable template for `key` in `language`, falling back to English."""
    found = {
        t.language: t
        for t in DunningMessageTemplate.objects.filter(key=key, language__in=[language, "en"])
    }
    if language not in found and "en" not in found:
        dunning_templates_ensure()  # the defaults, after a flush of the database
        found = {
            t.language: t
            for t in DunningMessageTemplate.objects.filter(key=key, language__in=[language, "en"])
        }
        if not found:
            raise LookupError(f"no message template {key!r} in {language!r} or English")
    return found.get(language) or found["en"]
