"""Staff actions on an order's card hold: capture the money, or release it and end the order.

payments does the Stripe side (payments.services.capture); these bring the order in line
through `order_payment_record`, the one service that moves an order because of money.

A release ends the order: the buyer's bank frees the money, nothing secures the order any more,
and what the hold granted is revoked. The order is canceled by accounting's own rule (a hold
staff released, with nothing else paid or held: `checkout.services.accounting`), not here, so a
release whose answer from Stripe was lost ends the order too, when Stripe's news arrives (the
`payment_intent.canceled` webhook, or reconciliation reading the intent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checkout.models import Order
from checkout.selectors import order_hold
from checkout.services.accounting import order_payment_record
from payments import gateway
from payments.models import Payment
from payments.services.capture import PaymentNotHeld, payment_capture, payment_release

__all__ = [
    "HoldOutcome",
    "PaymentNotHeld",
    "order_hold_capture",
    "order_hold_release",
]


@dataclass(frozen=True)
class HoldOutcome:
    payment: Payment
    order: Order

    @property
    def answered(self) -> bool:
        """False when Stripe's answer was lost: the payment is `unknown` until its news comes."""
        return self.payment.status != Payment.Status.UNKNOWN


def _held(order: Order) -> Payment:
    hold = order_hold(order, authorized_only=True)
    if hold is None:
        raise PaymentNotHeld("There is no hold on the card to capture or release.")
    return hold


def order_hold_capture(*, order: Order, actor: Any, amount: int | None = None) -> HoldOutcome:
    """Capture the order's hold (all of it, or `amount`; Stripe releases the rest)."""
    try:
        payment = payment_capture(payment=_held(order), actor=actor, amount=amount)
    except gateway.GatewayError as exc:  # refused (an unanswered call is `unknown` instead)
        raise PaymentNotHeld(f"Stripe refused the capture: {exc}. Nothing was changed.") from exc
    if payment.status == Payment.Status.UNKNOWN:
        return HoldOutcome(payment=payment, order=order)
    return HoldOutcome(
        payment=payment, order=order_payment_record(payment_id=payment.pk, cause="staff_capture")
    )


def order_hold_release(*, order: Order, actor: Any) -> HoldOutcome:
    """Release the order's hold; the order is canceled and its access revoked with it.

    When Stripe's answer is lost (`answered` is False) the order is left as it is: if Stripe did
    cancel the intent, its news cancels the order then; if not, the hold shows as authorised
    again once reconciled, and staff can release it again.
    """
    try:
        payment = payment_release(payment=_held(order), actor=actor)
    except gateway.GatewayError as exc:  # refused (an unanswered call is `unknown` instead)
        raise PaymentNotHeld(f"Stripe refused the release: {exc}. Nothing was changed.") from exc
    if payment.status == Payment.Status.UNKNOWN:
        return HoldOutcome(payment=payment, order=order)
    return HoldOutcome(
        payment=payment, order=order_payment_record(payment_id=payment.pk, cause="hold_released")
    )
