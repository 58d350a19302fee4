"""Holds: capture or release an authorised (manual-capture) payment. Staff actions only.

The Stripe call runs while the payment row is locked, so two staff clicking "Capture" at once
make one capture; the idempotency keys are deterministic per payment and try (`_key`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.audit import audit_log_record
from payments import gateway
from payments.models import Payment
from payments.services.transitions import payment_apply_intent, payment_mark_unknown


class PaymentNotHeld(Exception):
    """Only an authorised hold can be captured or released; the message is safe to show."""


def payment_capture(*, payment: Payment, actor: Any, amount: int | None = None) -> Payment:
    """Capture all of a hold, or `amount` of it (the rest is released by Stripe)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        _require_hold(payment)
        if amount is not None and (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or not 0 < amount <= payment.amount
        ):
            raise PaymentNotHeld(
                f"The amount to capture must be between 1 and {payment.amount} (minor units)."
            )
        try:
            result = gateway.payment_intent_capture(
                payment.stripe_payment_intent_id,
                idempotency_key=_key(payment, "capture"),
                amount_to_capture=amount,
            )
        except gateway.GatewayUnavailable as exc:
            return payment_mark_unknown(
                payment_id=payment.pk, cause="timeout_on_capture", error=exc, actor=actor
            )
        payment, _ = payment_apply_intent(
            payment_id=payment.pk, result=result, cause="staff_capture", actor=actor
        )
        audit_log_record(
            actor=actor,
            action="payment.capture",
            target=payment,
            detail={"amount": amount if amount is not None else payment.amount},
        )
    return payment


def payment_release(*, payment: Payment, actor: Any) -> Payment:
    """Release a hold: cancel the intent so the buyer's bank frees the money."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        _require_hold(payment)
        try:
            result = gateway.payment_intent_cancel(
                payment.stripe_payment_intent_id, idempotency_key=_key(payment, "release")
            )
        except gateway.GatewayUnavailable as exc:
            return payment_mark_unknown(
                payment_id=payment.pk, cause="timeout_on_release", error=exc, actor=actor
            )
        payment, _ = payment_apply_intent(
            payment_id=payment.pk, result=result, cause="staff_release", actor=actor
        )
        audit_log_record(actor=actor, action="payment.release", target=payment)
    return payment


def _key(payment: Payment, action: str) -> str:
    """`payment:<pk>:<action>`, then `:<n>` after n tries whose answer was lost: Stripe replays
    the saved answer (a 500 too) for a key for a day, so a retry staff make once the hold shows
    as authorised again must not reuse it."""
    tries = payment.events.filter(cause=f"timeout_on_{action}").count()
    return f"payment:{payment.pk}:{action}" + (f":{tries}" if tries else "")


def _require_hold(payment: Payment) -> None:
    if payment.capture_method != Payment.CaptureMethod.MANUAL:
        raise PaymentNotHeld("This payment was not a hold; there is nothing to capture or release.")
    if payment.status != Payment.Status.AUTHORIZED or not payment.stripe_payment_intent_id:
        raise PaymentNotHeld(
            f"This hold is {payment.get_status_display().lower()}, so it cannot be captured "
            "or released now."
        )
