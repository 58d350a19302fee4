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
whatever the locks did) and charges it in a task of its own:

1. the Payment row is created and committed (`payment_prepare`), so the PaymentIntent's
   idempotency key, built from the row, is stable before Stripe is called;
2. under the case's row lock, re-checked (still owed, not paused, not closed), the card is
   charged off-session (`payment_start`): the lock keeps a payment-link payment and a retry from
   both charging;
3. the outcome is recorded on the attempt and the case, and the case moves to its next step.

A worker killed anywhere in there is redelivered (acks late) and finds each phase done or not:
`payment_start` returns a Payment that already reached Stripe without calling Stripe again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from checkout.models import Notification, Order, Subscription
from config.celery import enqueue_on_commit
from dunning.declines import Category, decline_classify
from dunning.models import (
    ACTIVE_STATUSES,
    DunningAttempt,
    DunningCase,
    DunningPolicyStep,
)
from dunning.schedule import next_allowed, next_payday, zone
from dunning.selectors import card_retries_recent, case_amount_owed
from dunning.services.cases import (
    dunning_case_settle_from_order,
    dunning_discover,
    dunning_triggers_fire,
)
from dunning.services.messages import dunning_message_send, dunning_order_message_send
from dunning.services.transitions import dunning_case_note_event, dunning_case_transition
from payments.models import Customer, Payment
from payments.services import payment_prepare, payment_start, payment_transition

logger = logging.getLogger(__name__)

_S = DunningCase.Status
_A = DunningPolicyStep.Action
_AS = DunningAttempt.Status
_MESSAGE_ACTIONS = (_A.EMAIL, _A.SMS)


def _steps(case: DunningCase) -> list[DunningPolicyStep]:
    return list(case.policy.steps.order_by("position"))


def _first_message(steps: list[DunningPolicyStep]) -> int | None:
    return next((n for n, s in enumerate(steps) if s.action in _MESSAGE_ACTIONS), None)


def step_due(
    *, case: DunningCase, steps: list[DunningPolicyStep], index: int, after: datetime
) -> datetime:
    """When step `index` may run: its offset from the failure, never before `after`, moved out
    of quiet hours and the bank maintenance window (retries and messages) and, for a retry
    after insufficient funds, to payday. The first message after a checkout failure goes at
    once: the buyer was just there."""
    step, policy = steps[index], case.policy
    due = max(case.failed_at.astimezone(UTC) + step.offset, after.astimezone(UTC))
    if step.action not in (_A.RETRY, *_MESSAGE_ACTIONS):
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
    steps = _steps(case)
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
    from dunning.tasks import case_steps_run_task

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
    from dunning.tasks import attempt_charge_task

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
        steps = _steps(case)
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
        if action.action in _MESSAGE_ACTIONS:
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
    from checkout.services.orders import order_transition
    from checkout.services.subscriptions import subscription_cancel

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


def attempt_create(
    *,
    case: DunningCase,
    step: int | None,
    customer: Customer,
    card: str,
    now: datetime,
    requested_by: Any = None,
) -> DunningAttempt:
    """The attempt row for a retry of the (locked) case. Its number makes the Payment's key,
    `dunning:case:<id>:attempt:<n>`."""
    number = (DunningAttempt.objects.filter(case=case).aggregate(n=Max("number"))["n"] or 0) + 1
    amount = case_amount_owed(order=case.order, cause=case.cause)
    try:
        with transaction.atomic():
            attempt = DunningAttempt.objects.create(
                case=case,
                number=number,
                step=step,
                idempotency_key=f"dunning:case:{case.pk}:attempt:{number}",
                customer=customer,
                payment_method_id=card,
                amount=amount,
                currency=case.currency,
                requested_by=requested_by if getattr(requested_by, "pk", None) else None,
                created_at=now,
            )
    except IntegrityError:
        if step is None:
            raise
        return DunningAttempt.objects.get(case=case, step=step)
    case.attempts_made += 1
    case.last_attempt_at = now
    case.save(update_fields=["attempts_made", "last_attempt_at", "updated_at"])
    return attempt


_AUTHENTICATION_REQUIRED = "authentication_required"

_ATTEMPT_STATUS = {
    Payment.Status.SUCCEEDED: _AS.SUCCEEDED,
    Payment.Status.AUTHORIZED: _AS.SUCCEEDED,
    Payment.Status.PARTIALLY_REFUNDED: _AS.SUCCEEDED,
    Payment.Status.REFUNDED: _AS.SUCCEEDED,
    Payment.Status.DISPUTED: _AS.SUCCEEDED,
    Payment.Status.FAILED: _AS.FAILED,
    Payment.Status.CANCELED: _AS.CANCELED,
    Payment.Status.REQUIRES_ACTION: _AS.REQUIRES_ACTION,
    Payment.Status.PROCESSING: _AS.PROCESSING,
    Payment.Status.UNKNOWN: _AS.PROCESSING,
}


def dunning_attempt_charge(*, attempt_id: int, now: datetime | None = None) -> DunningAttempt:
    """Charge one attempt off-session with the saved card, exactly once (see the module
    docstring for the three phases), then record its outcome."""
    now = now or timezone.now()
    attempt = DunningAttempt.objects.select_related("case", "customer").get(pk=attempt_id)
    if attempt.status != _AS.PENDING:
        return dunning_attempt_settle(attempt_id=attempt.pk, now=now)
    case = attempt.case
    charge = {
        "idempotency_key": attempt.idempotency_key,
        "amount": attempt.amount,
        "currency": attempt.currency,
        "customer": attempt.customer,
        "payment_method_id": attempt.payment_method_id,
        "attempt_kind": Payment.AttemptKind.RETRY,
        "order_id": case.order_id,
        "metadata": {
            "dunning_case": str(case.pk),
            "dunning_attempt": str(attempt.number),
            "dunning_channel": DunningCase.Channel.RETRY,
        },
    }
    # Phase 1: the Payment row, committed on its own (its pk makes Stripe's idempotency key).
    # The attempt finds it again by its key; it is linked when the outcome is recorded.
    payment = payment_prepare(**charge)
    # Phase 2: charge under the case's lock, if it still makes sense.
    with transaction.atomic():
        locked = DunningCase.objects.select_for_update().get(pk=case.pk)
        owed = case_amount_owed(order=Order.objects.get(pk=case.order_id), cause=case.cause)
        untouched = (
            payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD
            and not payment.stripe_payment_intent_id
            and not payment.events.exists()
        )
        if locked.status in ACTIVE_STATUSES and locked.paused_at is None and owed == attempt.amount:
            payment_start(**charge, off_session=True)
        elif untouched:
            payment_transition(
                payment_id=payment.pk,
                to_status=Payment.Status.CANCELED,
                cause="dunning_case_changed",
                detail={"case_status": locked.status, "owed": owed},
            )
            DunningAttempt.objects.filter(pk=attempt.pk, status=_AS.PENDING).update(
                status=_AS.CANCELED, settled_at=now
            )
    # Phase 3: the outcome.
    return dunning_attempt_settle(attempt_id=attempt.pk, now=now)


def dunning_attempt_settle(*, attempt_id: int, now: datetime | None = None) -> DunningAttempt:
    """Record what the attempt's payment became, on the attempt and its case, once: a success
    closes the case; a decline is classified again (the card may now be hard-declined); a bank
    asking for the buyer (3DS) makes it customer action and sends them the link; a payment
    still processing waits for its webhook. A policy step's attempt then moves the case on."""
    now = now or timezone.now()
    with transaction.atomic():
        case_id = DunningAttempt.objects.values_list("case_id", flat=True).get(pk=attempt_id)
        case = (
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("policy", "order__offer", "order__lead")
            .get(pk=case_id)
        )
        attempt = DunningAttempt.objects.select_for_update().get(pk=attempt_id)
        payment = Payment.objects.filter(idempotency_key=attempt.idempotency_key).first()
        if payment is not None and attempt.payment_id is None:
            attempt.payment = payment
            attempt.save(update_fields=["payment"])
        new = _ATTEMPT_STATUS.get(payment.status, _AS.PENDING) if payment else attempt.status
        if attempt.status == _AS.CANCELED:
            new = _AS.CANCELED
        changed = new != attempt.status
        if changed:
            attempt.status = new
            if payment is not None:
                attempt.decline_code = payment.decline_code
                attempt.failure_code = payment.failure_code
            if new != _AS.PENDING:
                attempt.settled_at = now
            attempt.save()
            _attempt_outcome(case=case, attempt=attempt, payment=payment, now=now)
        if case.status in ACTIVE_STATUSES and new == _AS.SUCCEEDED:
            dunning_case_settle_from_order(case=case, cause="retry_succeeded", now=now)
        case.refresh_from_db()
        if (
            attempt.step is not None
            and case.next_step == attempt.step
            and case.status in ACTIVE_STATUSES
            and new != _AS.PENDING
        ):
            case_plan(case=case, index=attempt.step + 1, after=now, cause=f"retry_{new}")
    return attempt


def _attempt_outcome(
    *, case: DunningCase, attempt: DunningAttempt, payment: Payment | None, now: datetime
) -> None:
    # Stripe declines an off-session charge that the bank wants authenticated with
    # `authentication_required` (the intent then waits for a new payment method); an on-session
    # one waits in requires_action. Either way only the buyer can finish it: send the link.
    needs_buyer = attempt.status == _AS.REQUIRES_ACTION or (
        attempt.status == _AS.FAILED
        and payment is not None
        and _AUTHENTICATION_REQUIRED in (payment.decline_code, payment.failure_code)
    )
    if attempt.status == _AS.FAILED and payment is not None and not needs_buyer:
        rule = decline_classify(
            decline_code=payment.decline_code, failure_code=payment.failure_code
        )
        case.category, case.code_known = rule.category, rule.known
        case.decline_code, case.failure_code = payment.decline_code, payment.failure_code
        case.declined_payment_method_id = attempt.payment_method_id
        case.save(
            update_fields=[
                "category", "code_known", "decline_code", "failure_code",
                "declined_payment_method_id", "updated_at",
            ]
        )  # fmt: skip
        dunning_case_note_event(
            case=case,
            cause="retry_declined",
            detail={"attempt": attempt.number, "code": rule.code, "category": rule.category},
        )
    elif needs_buyer:
        case.category, case.code_known = Category.CUSTOMER_ACTION, True
        case.decline_code = _AUTHENTICATION_REQUIRED
        case.declined_payment_method_id = attempt.payment_method_id
        case.save(
            update_fields=[
                "category", "code_known", "decline_code", "declined_payment_method_id",
                "updated_at",
            ]
        )  # fmt: skip
        dunning_case_note_event(
            case=case, cause="retry_needs_buyer", detail={"attempt": attempt.number}
        )
        if case.status in ACTIVE_STATUSES:
            dunning_message_send(
                case=case,
                template_key="action_needed",
                channel=Notification.Channel.EMAIL,
                key=f"dunning:case:{case.pk}:action_needed:{attempt.number}",
                now=now,
            )
            if case.status == _S.RETRY_SCHEDULED:
                dunning_case_transition(
                    case_id=case.pk, to_status=_S.AWAITING_CUSTOMER, cause="retry_needs_buyer"
                )
    elif attempt.status in (_AS.SUCCEEDED, _AS.PROCESSING):
        dunning_case_note_event(
            case=case, cause=f"retry_{attempt.status}", detail={"attempt": attempt.number}
        )


def dunning_attempt_settle_for_payment(*, payment: Payment, now: datetime) -> None:
    """A payment's news (a webhook, reconciliation) about one of our retries."""
    attempt_id = (
        DunningAttempt.objects.filter(idempotency_key=payment.idempotency_key)
        .values_list("pk", flat=True)
        .first()
    )
    if attempt_id is not None:
        dunning_attempt_settle(attempt_id=attempt_id, now=now)


def deposit_reminder_send(*, order: Order, now: datetime) -> bool:
    """The friendly note a few days before a deposit's balance is due (no case yet)."""
    from dunning.schedule import language_for, zone_for

    owed = case_amount_owed(order=order, cause=DunningCase.Cause.DEPOSIT)
    if owed <= 0 or order.balance_due_at is None or order.balance_due_at <= now:
        return False
    phone = order.lead.phone if order.lead_id else ""
    sent = dunning_order_message_send(
        order=order,
        template_key="deposit_due_soon",
        key=f"dunning:order:{order.pk}:deposit_due_soon",
        language=language_for(country=order.billing_country),
        tz_name=zone_for(phone=phone, country=order.billing_country),
        amount=owed,
        due_date=order.balance_due_at,
    )
    return sent is not None


def card_expiry_reminders_send(*, now: datetime, limit: int = 200) -> int:
    """Pre-dunning (off unless DUNNING_CARD_EXPIRY_REMINDER_DAYS > 0): a renewing subscription
    whose card expires before its next charge, within that many days, gets one reminder."""
    days = settings.DUNNING_CARD_EXPIRY_REMINDER_DAYS
    if days <= 0:
        return 0
    from dunning.schedule import language_for, zone_for

    horizon = now + timedelta(days=days)
    sent = 0
    subscriptions = (
        Subscription.objects.filter(
            status=Subscription.Status.ACTIVE,
            customer__card_exp_year__isnull=False,
            customer__card_exp_year__lte=horizon.year,
        )
        .select_related("customer", "order__offer", "order__lead")
        .order_by("pk")[:limit]
    )
    for subscription in subscriptions:
        customer = subscription.customer
        if customer.payment_method_id != subscription.payment_method_id:
            continue  # the card on file is not the one this subscription renews with
        year, month = customer.card_exp_year, customer.card_exp_month or 12
        expires_after = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=now.tzinfo)
        if not now < expires_after <= horizon or subscription.next_charge_at < expires_after:
            continue  # not expiring within the window, or charged before it expires
        order = subscription.order
        phone = order.lead.phone if order.lead_id else ""
        if dunning_order_message_send(
            order=order,
            template_key="card_expiring",
            key=f"dunning:subscription:{subscription.pk}:card_expiring:{year}-{month:02d}",
            language=language_for(country=order.billing_country),
            tz_name=zone_for(phone=phone, country=order.billing_country),
            amount=subscription.amount,
            card_last4=customer.card_last4,
            card_expiry=f"{month:02d}/{year}",
        ):
            sent += 1
    return sent
