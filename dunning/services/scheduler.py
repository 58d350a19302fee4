"""The scheduler: what is due, when, and running it exactly once.

Due work is `DunningCase.next_action_at`. The beat task (`dunning.tick`, every minute) claims
due cases in batches with `SELECT … FOR UPDATE SKIP LOCKED`, leases them (`leased_until`,
DUNNING_LEASE_SECONDS ahead, so a case whose worker dies is due again after that) and hands
them out DUNNING_STEPS_PER_MESSAGE to a broker message, after commit. Nothing is ever
scheduled with a broker ETA.

A message carries (case id, step) pairs. The worker runs a step only if the case still waits on
that step, under the case's row lock; so a redelivered message, or a second scheduler that
claimed the case after its lease ran out, finds the step done and does nothing. A retry step
makes a `DunningAttempt` (unique per case and step: a second one is refused by the database,
whatever the locks did) and charges it in a task of its own (dunning/services/attempts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from checkout.models import Order, Subscription
from checkout.services.orders import order_transition
from checkout.services.subscriptions import subscription_cancel
from config.celery import enqueue_on_commit
from dunning.models import ACTIVE_STATUSES, DunningAttempt, DunningCase, DunningPolicyStep
from dunning.services.attempts import attempt_create
from dunning.services.cases import dunning_case_settle_from_order
from dunning.services.messages import dunning_message_send
from dunning.services.plan import MESSAGE_ACTIONS, case_card, case_plan, case_steps, retry_refusal
from dunning.services.transitions import dunning_case_note_event, dunning_case_transition
from dunning.services.triggers import dunning_discover, dunning_triggers_fire
from dunning.tasks import attempt_charge_task, case_steps_run_task

_S = DunningCase.Status
_A = DunningPolicyStep.Action
_AS = DunningAttempt.Status


_CLAIM_SQL = """
UPDATE {table} SET leased_until = %s
WHERE id = ANY(ARRAY(
    SELECT id FROM {table}
    WHERE next_action_at <= %s AND (leased_until IS NULL OR leased_until <= %s){keyset}
    ORDER BY next_action_at, id
    LIMIT %s
    FOR NO KEY UPDATE SKIP LOCKED
))
RETURNING id, next_step, next_action_at
"""


def _claim_batch(
    *, now: datetime, lease: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[int, int, datetime]]:
    """Claim and lease up to `limit` due cases (the rows `dunning_cases_due` reads), the ones
    after `after` (due time, id), in one statement. Returns (id, next step, due time) rows.

    Raw SQL because the ORM cannot say this in one statement: an UPDATE of exactly the rows a
    skip-locked SELECT locked, RETURNING them, with a row-value keyset the (next_action_at, id)
    index seeks to. The ORM's SELECT … FOR UPDATE, then UPDATE … WHERE id IN (…), is two round
    trips with every id sent back.

    - The keyset: a leased case keeps its due time (the lease is a separate, unindexed column,
      so leasing is a heap-only update), so each batch starts after the last one instead of
      scanning past the cases earlier batches leased; many cases share a due time (08:00 at the
      end of quiet hours), hence the id.
    - FOR NO KEY UPDATE keeps another scheduler off the row without blocking a worker that
      inserts the case's attempt (a foreign key takes a key-share lock).
    - `= ANY(ARRAY(…))` makes the outer UPDATE probe the primary key; `IN (…)` is planned as a
      hash join over a scan of the whole table.
    """
    table = DunningCase._meta.db_table
    keyset, params = "", [lease, now, now]
    if after is not None:
        keyset = " AND (next_action_at, id) > (%s, %s)"
        params += [after[0], after[1]]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL.format(table=table, keyset=keyset), [*params, limit])
        return cursor.fetchall()


def dunning_cases_claim(*, now: datetime | None = None) -> int:
    """One scheduler pass over the due cases: claim them in batches (skip locked, so several
    schedulers share the work and never claim a case twice), lease them, and enqueue their steps
    DUNNING_STEPS_PER_MESSAGE to a message once each batch commits. Returns the cases claimed."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.DUNNING_LEASE_SECONDS)
    batch, per_message = settings.DUNNING_CLAIM_BATCH, settings.DUNNING_STEPS_PER_MESSAGE
    claimed, after = 0, None
    while claimed < settings.DUNNING_TICK_MAX_CASES:
        with transaction.atomic():
            due = sorted(_claim_batch(now=now, lease=lease, after=after, limit=batch),
                         key=lambda row: (row[2], row[0]))  # fmt: skip
            for start in range(0, len(due), per_message):
                enqueue_on_commit(
                    case_steps_run_task,
                    [[pk, step] for pk, step, _ in due[start : start + per_message]],
                    now.isoformat(),
                )
        if not due:
            break
        claimed += len(due)
        after = (due[-1][2], due[-1][0])
        if len(due) < batch:
            break
    return claimed


def dunning_tick(*, now: datetime | None = None, discover: bool | None = None) -> dict[str, Any]:
    """The beat task's work: triggers that are due, discovery (at most every
    DUNNING_DISCOVER_EVERY_SECONDS), then the due cases."""
    now = now or timezone.now()
    result: dict[str, Any] = {"triggers": dunning_triggers_fire(now=now)}
    if discover is None:
        # One scheduler in the window does it; the cache key is a throttle, not a row cache.
        discover = cache.add("dunning:discover", 1, timeout=settings.DUNNING_DISCOVER_EVERY_SECONDS)
    if discover:
        result["discovered"] = dunning_discover(now=now)
    result["claimed"] = dunning_cases_claim(now=now)
    return result


def dunning_case_step_run(*, case_id: int, step: int, now: datetime | None = None) -> str:
    """Run step `step` of a case if the case still waits on it. Returns what happened."""
    now = now or timezone.now()
    with transaction.atomic():
        case = (
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("policy", "order__offer", "order__lead")
            .filter(pk=case_id)
            .first()
        )
        if (
            case is None
            or case.next_step != step
            or case.status not in ACTIVE_STATUSES
            or case.paused_at is not None
        ):
            return "stale"
        if dunning_case_settle_from_order(case=case, cause="order_settled", now=now):
            return "closed"
        steps = case_steps(case)
        if step >= len(steps):
            case_plan(case=case, index=step, after=now, cause="policy_finished")
            return "finished"
        action = steps[step]
        if action.action == _A.RETRY:
            attempt = DunningAttempt.objects.filter(case=case, step=step).first()
            if attempt is None:
                customer, card = case_card(case)
                refusal = retry_refusal(case=case, card=card, now=now)
                if refusal or customer is None:
                    dunning_case_note_event(
                        case=case, cause="retry_skipped", detail={"step": step, "reason": refusal}
                    )
                    case_plan(case=case, index=step + 1, after=now, cause="retry_skipped")
                    return "skipped"
                attempt = attempt_create(
                    case=case, step=step, customer=customer, card=card, now=now
                )
            if attempt.status == _AS.PENDING:
                enqueue_on_commit(attempt_charge_task, attempt.pk, now.isoformat())
                return "charging"
            case_plan(case=case, index=step + 1, after=now, cause=f"retry_{attempt.status}")
            return attempt.status
        if action.action in MESSAGE_ACTIONS:
            dunning_message_send(
                case=case,
                template_key=action.template or "reminder",
                channel=action.action,
                key=f"dunning:case:{case.pk}:step:{step}:{action.action}",
                now=now,
            )
            case_plan(case=case, index=step + 1, after=now, cause=f"{action.action}_sent")
            return "sent"
        if action.action == _A.ESCALATE:
            dunning_case_transition(
                case_id=case.pk, to_status=_S.ESCALATED, cause="policy_escalate"
            )
            case.refresh_from_db()
            case_plan(case=case, index=step + 1, after=now, cause="escalated")
            return "escalated"
        return _cancel_for_nonpayment(case=case, now=now)


def _cancel_for_nonpayment(*, case: DunningCase, now: datetime) -> str:
    """The policy's cancel step: a renewal's subscription stops; an order with nothing paid is
    canceled. An order with money on it (a deposit) is left to staff: what happens to paid
    money is a decision, not a step."""
    order = case.order
    if case.subscription_id:
        subscription = Subscription.objects.get(pk=case.subscription_id)
        subscription_cancel(subscription=subscription, by="dunning: renewal not paid")
    if order.amount_paid == 0 and order.status in (
        Order.Status.OPEN,
        Order.Status.AWAITING_PAYMENT,
        Order.Status.FAILED,
    ):
        order_transition(
            order_id=order.pk,
            to_status=Order.Status.CANCELED,
            cause="dunning_unpaid",
            detail={"case": case.pk},
            fields={"balance": 0},
        )
        dunning_case_transition(case_id=case.pk, to_status=_S.CANCELED, cause="policy_cancel")
        return "canceled"
    if case.subscription_id:
        dunning_case_transition(case_id=case.pk, to_status=_S.CANCELED, cause="policy_cancel")
        return "canceled"
    dunning_case_transition(
        case_id=case.pk,
        to_status=_S.EXHAUSTED,
        cause="policy_cancel_left_to_staff",
        detail={"reason": "money was paid on this order; staff decide"},
    )
    return "exhausted"
