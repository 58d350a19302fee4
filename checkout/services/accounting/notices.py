"""The customer's email about a payment's outcome, decided under the order's lock."""

from __future__ import annotations

from checkout.models import Notification, Order
from checkout.notifications import (
    notification_schedule,
    payment_failed_notice_owned_elsewhere,
)
from checkout.services.accounting.totals import lost_dispute, received_amount
from payments.models import Discrepancy, Payment
from payments.services import payment_risk_unknown

_P = Payment.Status
_O = Order.Status
_K = Discrepancy.Kind
_N = Notification.Kind


# What the customer is told when a discrepancy is found on their payment.
_NOTICE_FOR_DISCREPANCY = {
    _K.PAYMENT_ON_CANCELED_ORDER: _N.PAYMENT_ON_CANCELED_ORDER,
    _K.DUPLICATE_PAYMENT: _N.DUPLICATE_PAYMENT,
    _K.OVERPAYMENT: _N.OVERPAYMENT,
    _K.PARTIAL_PAYMENT: _N.BALANCE_DUE,
}


def email_context(order: Order, *, payment_amount: int) -> dict:
    """What every payment email says about the order, with the amount of this payment."""
    return {
        "payment_amount": payment_amount,
        "amount_paid": order.amount_paid,
        "balance": order.balance,
        "currency": order.currency,
    }


# Emails about a payment that do not tell its outcome: a receipt or credit note sent on its own
# (receipts' documents) says nothing about whether access was granted.
_NOT_AN_OUTCOME = [
    _N.PAYMENT_FAILED, _N.REFUND_ISSUED, _N.PAYMENT_ON_HOLD, _N.RECEIPT, _N.CREDIT_NOTE,
]  # fmt: skip


def outcome_notify(order: Order, payment: Payment, opened: list[tuple[str, Payment, int]]) -> None:
    base = email_context(order, payment_amount=received_amount(payment))
    for kind, p, amount in opened:
        notification_schedule(
            order=order,
            kind=_NOTICE_FOR_DISCREPANCY[kind],
            payment=p,
            context={**base, "payment_amount": received_amount(p), "discrepancy_amount": amount},
        )
    if Notification.objects.filter(order=order, payment=payment).exclude(
        kind__in=_NOT_AN_OUTCOME
    ).exists() and payment.status not in (_P.PARTIALLY_REFUNDED, _P.REFUNDED):
        return  # this payment's outcome was already told (confirmation or a discrepancy)

    status = payment.status
    if payment_risk_unknown(payment) and not order.needs_review:
        return  # nothing to tell until Radar's verdict decides between confirmed and review
    if status == _P.SUCCEEDED:
        if order.status == _O.CANCELED:
            return
        kind = _N.PAYMENT_UNDER_REVIEW if order.needs_review else _N.PAYMENT_CONFIRMED
        notification_schedule(order=order, kind=kind, payment=payment, context=base)
    elif status == _P.AUTHORIZED:
        notification_schedule(
            order=order,
            # "On hold" promises access: a hold under review is told it is being checked.
            kind=_N.PAYMENT_UNDER_REVIEW if order.needs_review else _N.PAYMENT_ON_HOLD,
            payment=payment,
            context={**base, "payment_amount": payment.amount},
        )
    elif status == _P.FAILED:
        if order.status in (_O.PAID, _O.CANCELED, _O.REFUNDED):
            return  # another payment covered it, or there is nothing left to pay
        if payment_failed_notice_owned_elsewhere(order=order, payment=payment):
            return  # dunning follows this failure and tells the buyer (never both)
        notification_schedule(
            order=order,
            kind=_N.PAYMENT_FAILED,
            payment=payment,
            context={
                **base,
                "payment_amount": payment.amount,
                "failure_code": payment.failure_code,
                "decline_code": payment.decline_code,
            },
        )
    elif status in (_P.PARTIALLY_REFUNDED, _P.REFUNDED) and not lost_dispute(payment):
        refunded = payment.amount_refunded or (
            received_amount(payment) if status == _P.REFUNDED else 0
        )
        if refunded <= 0:
            return
        notification_schedule(
            order=order,
            kind=_N.REFUND_ISSUED,
            payment=payment,
            suffix=str(refunded),
            context={
                **base,
                "refund_amount": refunded,
                "full": order.status == _O.REFUNDED,
            },
        )
