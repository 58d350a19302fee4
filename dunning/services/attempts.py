"""Retries: a `DunningAttempt` per retry step, charged off-session in a task of its own.

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

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from checkout.models import Notification, Order
from dunning.declines import Category, decline_classify
from dunning.models import ACTIVE_STATUSES, DunningAttempt, DunningCase
from dunning.selectors import case_amount_owed
from dunning.services.cases import dunning_case_settle_from_order
from dunning.services.messages import dunning_message_send
from dunning.services.plan import case_plan
from dunning.services.transitions import dunning_case_note_event, dunning_case_transition
from payments.models import Customer, Payment
from payments.services import payment_prepare, payment_start, payment_transition

_S = DunningCase.Status
_AS = DunningAttempt.Status


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
