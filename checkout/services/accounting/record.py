"""`order_payment_record`: bring an order in line with its payments (the package docstring)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkout.models import ORDER_TRANSITIONS, Entitlement, Notification, Order
from checkout.notifications import notification_schedule
from checkout.services.accounting.access import access_sync
from checkout.services.accounting.notices import email_context, outcome_notify
from checkout.services.accounting.review import (
    discrepancies_detect,
    mismatch_review_flag,
    risk_review_flag,
)
from checkout.services.accounting.totals import (
    HOLD_RELEASED,
    UNSETTLED,
    OrderTotals,
    order_totals,
    paid_in_order,
    received_amount,
    released_at_staff_request,
)
from checkout.services.orders import order_event_record, order_transition
from config.transitions import Outcome
from payments import gateway
from payments.models import PAID_STATUSES, Payment
from payments.services import payment_risk_assess

logger = logging.getLogger(__name__)

_P = Payment.Status
_O = Order.Status
_N = Notification.Kind


class PaymentWithoutOrder(ValueError):
    """The payment is not for an order (nothing for checkout to account)."""


def order_payment_record(*, payment_id: int, cause: str = "") -> Order:
    """Bring the payment's order in line with its payments. Idempotent and concurrency-safe.

    Locks the order row, recomputes the amounts, moves the status (with an OrderEvent), opens
    discrepancies, flags the order for review on Radar's verdict, grants, suspends, restores or
    revokes access, and schedules the customer's email about this payment, each at most once.

    Radar's verdict must be known before access is granted. News from a webhook carries the
    charge unexpanded, so its risk is unknown: the intent is then retrieved with the charge
    expanded (before the lock: a Stripe call never holds the order's row). If Stripe cannot be
    asked, access and the confirmation are held back (fail closed: giving access to a payment
    that may be fraud costs more than a short wait), and the task retries
    (`payment_risk_unknown` stays true) until the verdict is in; when it never comes, the task
    puts the order in front of staff.
    """
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise PaymentWithoutOrder(f"payment {payment_id} has no order")
    try:
        payment_risk_assess(payment_id=payment_id)
    except gateway.GatewayError as exc:
        logger.warning("payment %s: Radar verdict unknown, access held back: %s", payment_id, exc)
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("offer").get(pk=order_id)
        # Read after the lock: every payment as last committed.
        payments = list(order.payments.order_by("created_at", "pk"))
        payment = next(p for p in payments if p.pk == payment_id)
        cause = cause or f"payment_{payment.status}"
        totals = order_totals(payments=payments)

        order.amount_paid = totals.paid
        order.amount_refunded = totals.refunded
        order.amount_authorized = totals.authorized
        target = _status_for(order, payments, totals)
        if target == _O.CANCELED and order.status != _O.CANCELED:
            cause = HOLD_RELEASED  # the one way money news ends an order (_released_by_staff)
        _transition(order, target, cause=cause, payment=payment, totals=totals)
        if order.status in (_O.CANCELED, _O.REFUNDED):
            order.balance = 0
        else:
            order.balance = max(order.total - totals.secured, 0)
        if order.status == _O.PAID and order.paid_at is None:
            order.paid_at = timezone.now()
        order.save(
            update_fields=[
                "amount_paid", "amount_refunded", "amount_authorized", "balance", "status",
                "paid_at", "updated_at",
            ]
        )  # fmt: skip

        opened = discrepancies_detect(order, payments)
        mismatch_review_flag(order, payments)
        risk_review_flag(order, payments)
        # Staff who release an order have looked at it: their decision stands even when
        # Radar's verdict never arrived.
        access_sync(order, payments, payment, totals, staff_released=cause == "review_released")
        outcome_notify(order, payment, opened)
    return order


def _status_for(order: Order, payments: list[Payment], totals: OrderTotals) -> str:
    if order.status in (_O.CANCELED, _O.REFUNDED):
        return order.status  # final: money arriving now is a discrepancy, not a status
    if _released_by_staff(payments, totals):
        return _O.CANCELED
    if totals.paid > 0 and totals.refunded >= totals.paid:
        return _O.REFUNDED
    if totals.paid > 0 and totals.paid + totals.released >= order.total:
        return _O.PAID
    if totals.paid > 0:
        return _O.PARTIALLY_PAID
    if totals.authorized > 0:
        return _O.AWAITING_PAYMENT  # held, not yet paid (captured later)
    statuses = {p.status for p in payments}
    if _P.FAILED in statuses and not statuses & (
        {_P.REQUIRES_ACTION, _P.PROCESSING, _P.UNKNOWN, _P.AUTHORIZED} | PAID_STATUSES
    ):
        return _O.FAILED
    if payments and order.status == _O.OPEN:
        return _O.AWAITING_PAYMENT
    return order.status


def _transition(
    order: Order, target: str, *, cause: str, payment: Payment, totals: OrderTotals
) -> None:
    if target == order.status:
        return  # nothing to move (a refused move is recorded, so none is tried for nothing)
    path = [target]
    if target not in ORDER_TRANSITIONS[order.status]:
        if target == _O.REFUNDED:
            # The money arrived and went back before we accounted for it (a refund whose news
            # came before the success's): the order was paid, then refunded.
            path = [_O.PAID, _O.REFUNDED]
        elif order.status == _O.OPEN:
            # An order goes through awaiting_payment on its way to any outcome but paid.
            path = [_O.AWAITING_PAYMENT, target]
    for to_status in path:
        if to_status == order.status:
            continue
        _, outcome = order_transition(
            order=order,
            to_status=to_status,
            cause=cause,
            detail={
                "payment": payment.pk,
                "amount_paid": totals.paid,
                "amount_refunded": totals.refunded,
                "amount_authorized": totals.authorized,
            },
            save=False,
        )
        if outcome != Outcome.APPLIED:
            return


def _released_by_staff(payments: list[Payment], totals: OrderTotals) -> bool:
    """Staff released the order's hold and nothing else is paid, held or still in flight: the
    order ends (canceled), whichever news of the release arrives first. That may be the admin's
    own call, the `payment_canceled` signal's task, or, when Stripe's answer to the release was
    lost, its webhook or reconciliation later."""
    if totals.paid or totals.authorized or any(p.status in UNSETTLED for p in payments):
        return False
    ended = [
        p.pk
        for p in payments
        if p.capture_method == Payment.CaptureMethod.MANUAL and p.status == _P.CANCELED
    ]
    if not ended:
        return False
    return bool(released_at_staff_request(ended))


def order_review_release(*, order_id: int, actor: Any = None) -> Order:
    """Staff checked an order under review: clear the flag, then grant access and confirm if the
    money is there (a confirmation replaces the "under review" email)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.needs_review:
            order.needs_review = False
            order.review_reason = ""
            order.save(update_fields=["needs_review", "review_reason", "updated_at"])
            order_event_record(order=order, cause="review_released", actor=actor)
        payments = list(order.payments.order_by("created_at", "pk"))
        # The money that was held back: the last payment received, or else a hold on the card.
        secured = paid_in_order(payments) or [p for p in payments if p.status == _P.AUTHORIZED]
        if secured:
            last = secured[-1]
            order = order_payment_record(payment_id=last.pk, cause="review_released")
            was_held_back = Notification.objects.filter(
                order=order, payment=last, kind=_N.PAYMENT_UNDER_REVIEW
            ).exists()
            if was_held_back and Entitlement.objects.filter(order=order).exists():
                held = last.status == _P.AUTHORIZED
                notification_schedule(
                    order=order,
                    kind=_N.PAYMENT_ON_HOLD if held else _N.PAYMENT_CONFIRMED,
                    payment=last,
                    suffix="after_review",
                    context=email_context(
                        order, payment_amount=last.amount if held else received_amount(last)
                    ),
                )
    return order
