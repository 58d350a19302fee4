"""Planning a case: which step of its policy comes next, and when.

`case_plan` moves a case to the step after `index` (skipping retries the card cannot take:
`retry_refusal`) and sets `next_action_at` to when it may run (quiet hours, the buyer's zone,
payday for a funds decline); the scheduler runs it then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from checkout.models import Subscription
from dunning.declines import Category, decline_classify
from dunning.models import DunningCase, DunningPolicyStep
from dunning.schedule import next_allowed, next_payday, zone
from dunning.selectors import card_retries_recent
from dunning.services.transitions import dunning_case_transition
from payments.models import Customer

_S = DunningCase.Status
_A = DunningPolicyStep.Action
MESSAGE_ACTIONS = (_A.EMAIL, _A.SMS)


def case_steps(case: DunningCase) -> list[DunningPolicyStep]:
    return list(case.policy.steps.order_by("position"))


def _first_message(steps: list[DunningPolicyStep]) -> int | None:
    return next((n for n, s in enumerate(steps) if s.action in MESSAGE_ACTIONS), None)


def step_due(
    *, case: DunningCase, steps: list[DunningPolicyStep], index: int, after: datetime
) -> datetime:
    """When step `index` may run: its offset from the failure, never before `after`, moved out
    of quiet hours and the bank maintenance window (retries and messages) and, for a retry
    after insufficient funds, to payday. The first message after a checkout failure goes at
    once: the buyer was just there."""
    step, policy = steps[index], case.policy
    due = max(case.failed_at.astimezone(UTC) + step.offset, after.astimezone(UTC))
    if step.action not in (_A.RETRY, *MESSAGE_ACTIONS):
        return due
    if case.cause == DunningCase.Cause.CHECKOUT and index == _first_message(steps):
        return due
    tz = zone(case.timezone)
    if step.action == _A.RETRY and case.decline_code == "insufficient_funds":
        due = next_payday(
            due,
            tz=tz,
            mode=policy.payday_mode,
            days_later=policy.payday_days_later,
            declined_at=case.last_attempt_at or case.failed_at,
        )
    windows = [
        (policy.quiet_hours_start, policy.quiet_hours_end),
        (policy.maintenance_start, policy.maintenance_end),
    ]
    return next_allowed(due, tz=tz, windows=windows)


def case_card(case: DunningCase) -> tuple[Customer | None, str]:
    """The card a retry charges now: the subscription's own card for a renewal (D1), else the
    order's Customer's card on file. Read fresh: the buyer may have changed it in the portal."""
    if case.subscription_id:
        subscription = Subscription.objects.select_related("customer").get(pk=case.subscription_id)
        return subscription.customer, subscription.payment_method_id
    customer = Customer.objects.filter(pk=case.customer_id).first() if case.customer_id else None
    return customer, customer.payment_method_id if customer else ""


def retry_refusal(
    *, case: DunningCase, card: str, now: datetime, by_staff: bool = False
) -> str | None:
    """Why this card must not be retried now (None: it may). Staff may go past the policy's own
    limits (count and window), never past the decline rules or the per-card cap."""
    policy = case.policy
    if case.cause == DunningCase.Cause.DEPOSIT:
        return (
            "A deposit's balance is never taken automatically: the buyer's terms promise that. "
            "Send them a link instead."
        )
    if not card:
        return "There is no saved card to retry. Send the buyer a link."
    if case.category in (Category.HARD, Category.CUSTOMER_ACTION) and (
        card == case.declined_payment_method_id
    ):
        rule = decline_classify(decline_code=case.decline_code, failure_code=case.failure_code)
        return (
            f"{Category(case.category).label} ({case.decline_code or case.failure_code}): "
            f"{rule.staff} Retrying the same card will not work; {rule.next_step_label.lower()}."
        )
    if not by_staff:
        cap = policy.max_retries
        if not case.code_known:
            cap = min(cap, policy.unknown_code_max_retries)
        if case.attempts_made >= cap:
            return f"The policy's {cap} retries are used up."
        if now > case.failed_at + timedelta(days=policy.window_days):
            return f"Outside the policy's retry window of {policy.window_days} days."
    if card_retries_recent(payment_method_id=card, now=now) >= settings.DUNNING_CARD_RETRY_CAP:
        return (
            f"This card was already retried {settings.DUNNING_CARD_RETRY_CAP} times in "
            f"{settings.DUNNING_CARD_RETRY_CAP_DAYS} days (across all cases)."
        )
    return None


def _retry_ahead(case: DunningCase, steps: list[DunningPolicyStep], index: int) -> bool:
    """A retry that may still run lies ahead (else the case waits for the buyer)."""
    if case.cause == DunningCase.Cause.DEPOSIT:
        return False
    _, card = case_card(case)
    end = case.failed_at + timedelta(days=case.policy.window_days)
    for step in steps[index:]:
        if step.action != _A.RETRY or case.failed_at + step.offset > end:
            continue
        return retry_refusal(case=case, card=card, now=case.failed_at + step.offset) is None
    return False


def case_plan(
    *, case: DunningCase, index: int, after: datetime, cause: str, actor: Any = None
) -> DunningCase:
    """Point the (locked) case at step `index`: its due time, and the status that says what it
    waits for. Past the last step, the case is exhausted (an escalated one waits for staff)."""
    steps = case_steps(case)
    if index >= len(steps):
        if case.status == _S.ESCALATED:
            case.next_step, case.next_action_at, case.leased_until = index, None, None
            case.save(update_fields=["next_step", "next_action_at", "leased_until", "updated_at"])
            return case
        case, _ = dunning_case_transition(
            case_id=case.pk,
            to_status=_S.EXHAUSTED,
            cause="policy_finished",
            actor=actor,
            fields={"next_step": index},
        )
        return case
    due = step_due(case=case, steps=steps, index=index, after=after)
    fields = {
        "next_step": index,
        "next_action_at": None if case.paused_at else due,
        "leased_until": None,  # the step that held it is done
    }
    if case.status == _S.ESCALATED:
        target = _S.ESCALATED
    else:
        target = _S.RETRY_SCHEDULED if _retry_ahead(case, steps, index) else _S.AWAITING_CUSTOMER
    if target == case.status:
        # Only the plan moves (the caller holds the row lock): no history row for that.
        for name, value in fields.items():
            setattr(case, name, value)
        case.save(update_fields=[*fields, "updated_at"])
        return case
    case, _ = dunning_case_transition(
        case_id=case.pk, to_status=target, cause=cause, actor=actor, fields=fields
    )
    return case


def case_plan_first(*, case: DunningCase, now: datetime) -> DunningCase:
    return case_plan(case=case, index=0, after=now, cause="planned")
