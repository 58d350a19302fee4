"""Money that does not add up, and payments a person must look at: discrepancies, a Stripe
intent that differs from the order, and Radar's verdict. Each flag is raised once per payment."""

from __future__ import annotations

from typing import Any

from checkout.models import Order
from checkout.services.accounting.totals import paid_in_order, received_amount
from checkout.services.fraud import payment_risk_needs_review
from checkout.services.orders import order_event_record, order_flag_for_review
from payments.models import PAID_STATUSES, Discrepancy, Payment
from payments.services.discrepancies import discrepancy_open

_P = Payment.Status
_O = Order.Status
_K = Discrepancy.Kind


def discrepancies_detect(order: Order, payments: list[Payment]) -> list[tuple[str, Payment, int]]:
    """Open the order-level discrepancies; return the newly opened (kind, payment, amount)."""
    found: list[tuple[str, Payment, int, dict[str, Any]]] = []
    prior = 0
    for p in paid_in_order(payments):
        received = received_amount(p)
        is_hold = p.capture_method == Payment.CaptureMethod.MANUAL
        if order.status == _O.CANCELED and p.status != _P.REFUNDED:
            found.append((_K.PAYMENT_ON_CANCELED_ORDER, p, received, {}))
        elif prior >= order.total:
            found.append((_K.DUPLICATE_PAYMENT, p, received, {"already_paid": prior}))
        elif prior + received > order.total:
            excess = prior + received - order.total
            found.append((_K.OVERPAYMENT, p, excess, {"received": received}))
        elif not is_hold:
            # What was due when this payment was made: the deposit (or the whole total) first,
            # then the rest.
            due = (order.amount_due_now if prior < order.amount_due_now else order.total) - prior
            if received < due:
                found.append((_K.PARTIAL_PAYMENT, p, due - received, {"due": due}))
        prior += received

    opened = []
    for kind, p, amount, detail in found:
        _, created = discrepancy_open(
            kind=kind,
            order_id=order.pk,
            payment_id=p.pk,
            amount=amount,
            currency=order.currency,
            detail={"order": order.reference, "order_total": order.total, **detail},
        )
        if created:
            opened.append((kind, p, amount))
    return opened


# Stripe's intent is not for what we asked (payments opens these when it applies the intent).
_MISMATCH_KINDS = (_K.AMOUNT_MISMATCH, _K.CURRENCY_MISMATCH)


def mismatch_review_flag(order: Order, payments: list[Payment]) -> None:
    """Flag the order when money arrived on an intent whose amount or currency is not the one we
    asked for: never fulfil it silently (a payment in another currency is not this order's
    money). Once per payment, like the Radar review (an OrderEvent `mismatch_review`)."""
    moving = [p.pk for p in payments if p.status in PAID_STATUSES | {_P.AUTHORIZED}]
    if not moving:
        return
    mismatched = (
        Discrepancy.objects.filter(payment_id__in=moving, kind__in=_MISMATCH_KINDS)
        .values_list("payment_id", "kind")
        .order_by("pk")
    )
    for payment_id, kind in mismatched:
        if order.events.filter(cause="mismatch_review", detail__payment=payment_id).exists():
            continue
        reason = f"Stripe's payment differs from the order ({_K(kind).label.lower()})"
        flagged = order_flag_for_review(order_id=order.pk, reason=reason)
        order.needs_review = True
        order.review_reason = flagged.review_reason
        order_event_record(
            order=order,
            cause="mismatch_review",
            detail={"payment": payment_id, "kind": kind},
        )


def risk_review_flag(order: Order, payments: list[Payment]) -> None:
    """Flag the order when a paid or authorised payment's Radar verdict needs a person.

    Once per payment (an OrderEvent `risk_review` is the mark): after staff release the order,
    recording the same payment again does not flag it again.
    """
    for p in payments:
        if p.status not in PAID_STATUSES | {_P.AUTHORIZED}:
            continue
        reason = payment_risk_needs_review(payment=p)
        if not reason or order.events.filter(cause="risk_review", detail__payment=p.pk).exists():
            continue
        flagged = order_flag_for_review(order_id=order.pk, reason=reason)
        order.needs_review = True
        order.review_reason = flagged.review_reason
        order_event_record(
            order=order, cause="risk_review", detail={"payment": p.pk, "reason": reason}
        )
