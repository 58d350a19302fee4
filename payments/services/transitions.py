"""The one place a Payment's status changes (STYLE.md, State)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.transitions import transition
from payments import signals
from payments.gateway import PaymentIntentResult
from payments.models import PAYMENT_MACHINE, Payment
from payments.services.discrepancies import payment_mismatch_check

logger = logging.getLogger(__name__)

_SIGNAL_FOR_STATUS = {
    Payment.Status.SUCCEEDED: signals.payment_succeeded,
    Payment.Status.FAILED: signals.payment_failed,
    Payment.Status.PARTIALLY_REFUNDED: signals.payment_refunded,
    Payment.Status.REFUNDED: signals.payment_refunded,
    Payment.Status.DISPUTED: signals.payment_disputed,
    Payment.Status.AUTHORIZED: signals.payment_authorized,
    Payment.Status.CANCELED: signals.payment_canceled,
}


def payment_transition(
    *,
    payment_id: int,
    to_status: str,
    cause: str,
    stripe_event_id: str = "",
    event_created: int = 0,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Payment, str]:
    """Move a payment to `to_status` if the state machine allows it, and record the attempt.

    Locks the row. An event older than the newest one applied is recorded as stale and changes
    nothing; a move the machine does not allow is recorded as refused. `fields` are extra
    columns to set when the move is applied (amounts, failure codes, risk).
    Returns the payment and the outcome. Its signals are sent after commit.
    """

    def on_apply(payment: Payment, from_status: str) -> dict[str, Any]:
        if to_status == Payment.Status.SUCCEEDED and payment.succeeded_at is None:
            return {"succeeded_at": timezone.now()}
        return {}

    def stale(payment: Payment) -> bool:
        return bool(event_created) and event_created < payment.last_event_created

    def after_commit(payment: Payment, from_status: str) -> None:
        for signal in _signals_for(from_status, to_status):
            _send(signal, payment.pk, to_status)

    update = dict(fields or {})
    if event_created:
        # Set only with an applied or unchanged move, which is never older than the newest.
        update["last_event_created"] = event_created
    return transition(
        PAYMENT_MACHINE,
        pk=payment_id,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        fields=update,
        on_apply=on_apply,
        after_commit=after_commit,
        is_stale=stale,
        history={"stripe_event_id": stripe_event_id},
    )


def _signals_for(from_status: str, to_status: str) -> list:
    if from_status == Payment.Status.DISPUTED:
        # A dispute closed: its receivers restore or revoke access (news about the dispute, not
        # a new success or refund).
        return [] if to_status == Payment.Status.DISPUTED else [signals.payment_disputed]
    signal = _SIGNAL_FOR_STATUS.get(to_status)
    return [signal] if signal is not None else []


def payment_mark_unknown(
    *, payment_id: int, cause: str, error: Exception, actor: Any = None
) -> Payment:
    """A call to Stripe timed out: it may or may not have taken effect. The payment is
    `unknown` until reconciliation looks it up (never by making a second intent)."""
    payment, _ = payment_transition(
        payment_id=payment_id,
        to_status=Payment.Status.UNKNOWN,
        cause=cause,
        actor=actor,
        detail={"error": str(error)[:300]},
    )
    return payment


def _send(signal, payment_id: int, status: str) -> None:
    for receiver, response in signal.send_robust(
        sender=Payment, payment_id=payment_id, status=status
    ):
        if isinstance(response, Exception):
            logger.error("receiver %r failed for payment %s: %r", receiver, payment_id, response)


def _status_from_intent(result: PaymentIntentResult) -> str:
    status = result.status
    if status in ("requires_payment_method", "requires_confirmation"):
        return (
            Payment.Status.FAILED
            if result.last_error_code
            else Payment.Status.REQUIRES_PAYMENT_METHOD
        )
    return {
        "requires_action": Payment.Status.REQUIRES_ACTION,
        "processing": Payment.Status.PROCESSING,
        "requires_capture": Payment.Status.AUTHORIZED,
        "succeeded": Payment.Status.SUCCEEDED,
        "canceled": Payment.Status.CANCELED,
    }.get(status, Payment.Status.UNKNOWN)


def payment_apply_intent(
    *,
    payment_id: int,
    result: PaymentIntentResult,
    cause: str,
    stripe_event_id: str = "",
    event_created: int = 0,
    actor: Any = None,
) -> tuple[Payment, str]:
    """Bring a payment in line with what Stripe says about its PaymentIntent.

    An intent whose amount or currency is not the one we asked for opens a discrepancy first,
    in the same transaction, whichever path brought the news (our own call's answer, a webhook,
    reconciliation): checkout then holds the order for review instead of fulfilling it.
    """
    with transaction.atomic():
        payment_mismatch_check(
            payment=Payment.objects.get(pk=payment_id),
            amount=result.amount,
            currency=result.currency,
        )
        return _payment_apply_intent(
            payment_id=payment_id,
            result=result,
            cause=cause,
            stripe_event_id=stripe_event_id,
            event_created=event_created,
            actor=actor,
        )


def _payment_apply_intent(
    *,
    payment_id: int,
    result: PaymentIntentResult,
    cause: str,
    stripe_event_id: str,
    event_created: int,
    actor: Any,
) -> tuple[Payment, str]:
    to_status = _status_from_intent(result)
    fields: dict[str, Any] = {"stripe_payment_intent_id": result.id}
    if result.payment_method:
        # Stripe clears an intent's payment method after a decline: keep the card that was
        # tried (checkout compares it to tell a retry with another card from a double click).
        fields["payment_method_id"] = result.payment_method
    if to_status == Payment.Status.FAILED:
        fields.update(
            failure_code=result.last_error_code[:100],
            decline_code=result.last_error_decline_code[:100],
            failure_message=result.last_error_message[:500],
        )
    if to_status == Payment.Status.SUCCEEDED:
        # What Stripe took (less than the amount after a partial capture of a hold).
        fields["amount_received"] = result.amount_received or result.amount
    if result.risk_level:
        fields["risk_level"] = result.risk_level[:30]
    if result.risk_score is not None:
        fields["risk_score"] = result.risk_score
    return payment_transition(
        payment_id=payment_id,
        to_status=to_status,
        cause=cause,
        stripe_event_id=stripe_event_id,
        event_created=event_created,
        actor=actor,
        detail={"stripe_status": result.status},
        fields=fields,
    )
