"""The access an order's money pays for: granted, suspended, restored or revoked to match
the payments (the package docstring gives the rules)."""

from __future__ import annotations

from checkout.models import Entitlement, Notification, Order
from checkout.notifications import notification_schedule
from checkout.selectors import entitlement_suspension_cause
from checkout.services.accounting.notices import email_context
from checkout.services.accounting.totals import (
    HOLD_LAPSED,
    HOLD_RELEASED,
    UNSECURED,
    UNSETTLED,
    OrderTotals,
    lost_dispute,
    released_at_staff_request,
)
from checkout.services.entitlements import (
    entitlement_grant,
    entitlement_restore,
    entitlement_revoke,
    entitlement_suspend,
)
from checkout.services.orders import order_event_record
from payments.models import PAID_STATUSES, Payment
from payments.services import payment_risk_unknown

_P = Payment.Status
_O = Order.Status
_N = Notification.Kind


def access_sync(
    order: Order,
    payments: list[Payment],
    payment: Payment,
    totals: OrderTotals,
    *,
    staff_released: bool = False,
) -> None:
    lost = [p for p in payments if lost_dispute(p)]
    if order.status == _O.REFUNDED or lost:
        entitlement_revoke(
            order=order,
            cause="dispute_lost" if lost else "refunded",
            payment=lost[0] if lost else payment,
        )
        return
    kept = totals.paid - totals.refunded + totals.authorized
    if order.status == _O.CANCELED and kept <= 0:
        # A released hold (or a canceled order whose money all went back): nothing is secured
        # any more, so access granted at authorisation ends.
        entitlement_revoke(order=order, cause="order_canceled", payment=payment)
        return
    disputed = [p for p in payments if p.status == _P.DISPUTED]
    if disputed:
        entitlement_suspend(order=order, cause="dispute_opened", payment=disputed[0])
        return
    granting = payment if payment.status in PAID_STATUSES | {_P.AUTHORIZED} else None
    entitlement = Entitlement.objects.filter(order=order).first()
    if entitlement is not None:
        if entitlement.status == Entitlement.Status.SUSPENDED:
            suspended_for = entitlement_suspension_cause(entitlement)
            if suspended_for == "dispute_opened":
                entitlement_restore(order=order, cause="dispute_won", payment=payment)
            elif suspended_for in UNSECURED and _may_have_access(
                order, payments, totals, staff_released=staff_released
            ):
                # The buyer paid (or a new hold was placed) after the hold lapsed.
                entitlement_restore(order=order, cause="payment_covered", payment=granting)
        elif entitlement.status == Entitlement.Status.ACTIVE and kept <= 0:
            _suspend_unsecured(order, payments)
        return
    if not _may_have_access(order, payments, totals, staff_released=staff_released):
        return
    entitlement_grant(order=order, payment=granting)


def _may_have_access(
    order: Order, payments: list[Payment], totals: OrderTotals, *, staff_released: bool
) -> bool:
    covered = totals.secured >= order.amount_due_now and totals.secured > 0
    if order.status in (_O.CANCELED, _O.REFUNDED) or not covered or order.needs_review:
        # Under review (risk or a discrepancy): access waits for staff (order_review_release).
        return False
    # Radar's verdict is not in yet: granted when it is (the task retries).
    return staff_released or not _risk_pending(payments)


def _risk_pending(payments: list[Payment]) -> bool:
    return any(payment_risk_unknown(p) for p in payments)


def _suspend_unsecured(order: Order, payments: list[Payment]) -> None:
    """Active access with no money kept and no live hold: the hold that secured it is gone.

    Suspend (the order is still open and the buyer can pay), record it on the order, and tell the
    buyer once per lapsed hold. Does nothing while a payment's outcome is still unknown, or when
    no hold ended (access that money paid for is taken back by the refund and dispute rules).
    """
    if any(p.status in UNSETTLED for p in payments):
        return
    ended = [
        p
        for p in payments
        if p.capture_method == Payment.CaptureMethod.MANUAL and p.status in (_P.CANCELED, _P.FAILED)
    ]
    if not ended:
        return
    hold = ended[-1]
    released = hold.pk in released_at_staff_request([hold.pk])
    cause = HOLD_RELEASED if released else HOLD_LAPSED
    entitlement = entitlement_suspend(order=order, cause=cause, payment=hold)
    if entitlement is None or entitlement.status != Entitlement.Status.SUSPENDED:
        return
    order_event_record(
        order=order,
        cause=cause,
        detail={"payment": hold.pk, "payment_status": hold.status, "access": "suspended"},
    )
    if cause == HOLD_LAPSED:
        notification_schedule(
            order=order,
            kind=_N.HOLD_LAPSED,
            payment=hold,
            context=email_context(order, payment_amount=hold.amount),
        )
