"""Order accounting: what an order's payments add up to, and what follows from it.

`order_payment_record` is the one service that changes an Order's status because of money. It
is called synchronously by the checkout flow right after a server confirm, and from a task for
every payment signal (succeeded, authorized, failed, refunded, disputed). Whichever arrives
first does the work; the others find nothing left to do.

It never trusts the news it was given: it locks the order and recomputes everything from the
order's payments as they are now, so events that arrive twice or out of order converge on the
same result.

Amounts (integer minor units):
- `amount_paid`: money received, `amount_received` of payments in PAID_STATUSES (gross; a
  refund does not lower it).
- `amount_refunded`: money given back (a payment in `refunded` counts in full, which also
  covers a lost dispute).
- `amount_authorized`: money held on a card (`authorized`, a refundable hold). Secured but not
  paid: it is not revenue and not in `amount_paid`, but it does not have to be paid again, so
  it lowers `balance`.
- `balance`: what the buyer still owes, `total - amount_paid - amount_authorized` (never below
  zero); zero on a canceled or refunded order.

Access is granted when what is secured (paid + held) covers `amount_due_now` (the whole total,
or the deposit for a deposit offer). A hold therefore grants access at authorisation: the money
is secured and the buyer gets what they were promised while it is held. Access is taken back
when the order is refunded, a dispute is lost, or the order is canceled with no money kept (a
released hold).

A hold can also end without the order being canceled: Stripe cancels an uncaptured authorisation
by itself after about 7 days, or someone cancels it in the Dashboard (`payment_canceled`). Access
then rests on nothing, so it is suspended (cause `hold_lapsed`), not revoked: the order is still
open and the buyer is told once (`hold_lapsed` email) that they can pay to keep it. A payment that
covers the order again restores it. A hold staff released ends the order instead: it is
canceled (cause `hold_released`) and access revoked, without an email, whichever news of the
release arrives first. That holds when Stripe's answer to the release was lost too: its webhook
(or reconciliation) brings the cancellation later, and the order ends then.

Radar's verdict is decided here, under the order's lock, before access: a paid or authorised
payment whose risk qualifies (`payment_risk_needs_review`) flags the order for review, once per
payment, so whichever path records the payment first (the browser's confirm or the webhook's
task) holds access back until staff release it (`order_review_release`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkout.models import (
    ORDER_TRANSITIONS,
    Entitlement,
    Notification,
    Order,
)
from checkout.notifications import (
    notification_schedule,
    payment_failed_notice_owned_elsewhere,
)
from checkout.selectors import entitlement_suspension_cause
from checkout.services.entitlements import (
    entitlement_grant,
    entitlement_restore,
    entitlement_revoke,
    entitlement_suspend,
)
from checkout.services.fraud import payment_risk_needs_review
from checkout.services.orders import (
    order_event_record,
    order_flag_for_review,
    order_status_move,
)
from payments import gateway
from payments.models import PAID_STATUSES, Discrepancy, Dispute, Payment, PaymentEvent
from payments.services import payment_risk_assess, payment_risk_unknown
from payments.services.discrepancies import discrepancy_open

logger = logging.getLogger(__name__)

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


class PaymentWithoutOrder(ValueError):
    """The payment is not for an order (nothing for checkout to account)."""


@dataclass(frozen=True)
class OrderTotals:
    paid: int
    refunded: int
    authorized: int
    # The part of a captured hold that was released: never owed (a hold captured for less).
    released: int

    @property
    def secured(self) -> int:
        return self.paid + self.authorized + self.released


def _received(payment: Payment) -> int:
    # amount_received is set from Stripe on success; a paid row without it received its amount.
    return payment.amount_received or payment.amount


def order_totals(*, payments: list[Payment]) -> OrderTotals:
    paid = refunded = authorized = released = 0
    for p in payments:
        if p.status in PAID_STATUSES:
            received = _received(p)
            paid += received
            gone = received if p.status == _P.REFUNDED else p.amount_refunded
            refunded += min(received, gone)
            if p.capture_method == Payment.CaptureMethod.MANUAL:
                released += max(p.amount - received, 0)
        elif p.status == _P.AUTHORIZED:
            authorized += p.amount
    return OrderTotals(paid=paid, refunded=refunded, authorized=authorized, released=released)


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
            cause = _HOLD_RELEASED  # the one way money news ends an order (_released_by_staff)
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

        opened = _detect_discrepancies(order, payments)
        _review_mismatch(order, payments)
        _review_risk(order, payments)
        # Staff who release an order have looked at it: their decision stands even when
        # Radar's verdict never arrived.
        _sync_access(order, payments, payment, totals, staff_released=cause == "review_released")
        _notify(order, payment, opened)
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
        applied = order_status_move(
            order=order,
            to_status=to_status,
            cause=cause,
            detail={
                "payment": payment.pk,
                "amount_paid": totals.paid,
                "amount_refunded": totals.refunded,
                "amount_authorized": totals.authorized,
            },
        )
        if not applied:
            return


def _released_by_staff(payments: list[Payment], totals: OrderTotals) -> bool:
    """Staff released the order's hold and nothing else is paid, held or still in flight: the
    order ends (canceled), whichever news of the release arrives first. That may be the admin's
    own call, the `payment_canceled` signal's task, or, when Stripe's answer to the release was
    lost, its webhook or reconciliation later."""
    if totals.paid or totals.authorized or any(p.status in _UNSETTLED for p in payments):
        return False
    ended = [
        p.pk
        for p in payments
        if p.capture_method == Payment.CaptureMethod.MANUAL and p.status == _P.CANCELED
    ]
    if not ended:
        return False
    return bool(_released_at_staff_request(ended))


def _released_at_staff_request(hold_ids: list[int]) -> set[int]:
    """The holds among `hold_ids` that ended because staff released them: a staff release
    (`staff_release`, or `timeout_on_release` when Stripe's answer was lost) not followed by
    the hold being seen authorised again (a release Stripe never ran; a later end is a lapse)."""
    events = PaymentEvent.objects.filter(payment_id__in=hold_ids).order_by("created_at", "pk")
    asked: dict[int, bool] = {}
    for event in events.only("payment_id", "cause", "to_status", "outcome"):
        if event.cause in _STAFF_RELEASE_CAUSES:
            asked[event.payment_id] = True
        elif (
            event.to_status == _P.AUTHORIZED
            and event.outcome == PaymentEvent.Outcome.APPLIED
            and asked.get(event.payment_id)
        ):
            asked[event.payment_id] = False
    return {payment_id for payment_id, released in asked.items() if released}


def _paid_in_order(payments: list[Payment]) -> list[Payment]:
    paid = [p for p in payments if p.status in PAID_STATUSES]
    # The order in which the money arrived decides which payment is the extra one, so the
    # answer is the same whichever event is processed first.
    return sorted(paid, key=lambda p: (p.succeeded_at or p.created_at, p.pk))


def _detect_discrepancies(order: Order, payments: list[Payment]) -> list[tuple[str, Payment, int]]:
    """Open the order-level discrepancies; return the newly opened (kind, payment, amount)."""
    found: list[tuple[str, Payment, int, dict[str, Any]]] = []
    prior = 0
    for p in _paid_in_order(payments):
        received = _received(p)
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


def _review_mismatch(order: Order, payments: list[Payment]) -> None:
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


def _review_risk(order: Order, payments: list[Payment]) -> None:
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


def _risk_pending(payments: list[Payment]) -> bool:
    return any(payment_risk_unknown(p) for p in payments)


def _lost_dispute(payment: Payment) -> bool:
    if payment.status != _P.REFUNDED:
        return False
    return (
        Dispute.objects.filter(payment=payment, status=Dispute.Status.LOST).exists()
        or PaymentEvent.objects.filter(
            payment=payment,
            outcome=PaymentEvent.Outcome.APPLIED,
            from_status=_P.DISPUTED,
            to_status=_P.REFUNDED,
        ).exists()
    )


def _sync_access(
    order: Order,
    payments: list[Payment],
    payment: Payment,
    totals: OrderTotals,
    *,
    staff_released: bool = False,
) -> None:
    lost = [p for p in payments if _lost_dispute(p)]
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
            elif suspended_for in _UNSECURED and _may_have_access(
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


# Suspensions because nothing secures the access any more (see the module docstring).
_HOLD_LAPSED = "hold_lapsed"
_HOLD_RELEASED = "hold_released"
_UNSECURED = {_HOLD_LAPSED, _HOLD_RELEASED}
# A payment in one of these may still turn out to hold or take money: access stays until we know.
_UNSETTLED = {_P.REQUIRES_ACTION, _P.PROCESSING, _P.UNKNOWN}
# PaymentEvent causes of a release staff asked for (payments.services.capture.payment_release).
_STAFF_RELEASE_CAUSES = ("staff_release", "timeout_on_release")


def _suspend_unsecured(order: Order, payments: list[Payment]) -> None:
    """Active access with no money kept and no live hold: the hold that secured it is gone.

    Suspend (the order is still open and the buyer can pay), record it on the order, and tell the
    buyer once per lapsed hold. Does nothing while a payment's outcome is still unknown, or when
    no hold ended (access that money paid for is taken back by the refund and dispute rules).
    """
    if any(p.status in _UNSETTLED for p in payments):
        return
    ended = [
        p
        for p in payments
        if p.capture_method == Payment.CaptureMethod.MANUAL and p.status in (_P.CANCELED, _P.FAILED)
    ]
    if not ended:
        return
    hold = ended[-1]
    released = hold.pk in _released_at_staff_request([hold.pk])
    cause = _HOLD_RELEASED if released else _HOLD_LAPSED
    entitlement = entitlement_suspend(order=order, cause=cause, payment=hold)
    if entitlement is None or entitlement.status != Entitlement.Status.SUSPENDED:
        return
    order_event_record(
        order=order,
        cause=cause,
        detail={"payment": hold.pk, "payment_status": hold.status, "access": "suspended"},
    )
    if cause == _HOLD_LAPSED:
        notification_schedule(
            order=order,
            kind=_N.HOLD_LAPSED,
            payment=hold,
            context=_email_context(order, payment_amount=hold.amount),
        )


def _email_context(order: Order, *, payment_amount: int) -> dict:
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


def _notify(order: Order, payment: Payment, opened: list[tuple[str, Payment, int]]) -> None:
    base = _email_context(order, payment_amount=_received(payment))
    for kind, p, amount in opened:
        notification_schedule(
            order=order,
            kind=_NOTICE_FOR_DISCREPANCY[kind],
            payment=p,
            context={**base, "payment_amount": _received(p), "discrepancy_amount": amount},
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
    elif status in (_P.PARTIALLY_REFUNDED, _P.REFUNDED) and not _lost_dispute(payment):
        refunded = payment.amount_refunded or (_received(payment) if status == _P.REFUNDED else 0)
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
        secured = _paid_in_order(payments) or [p for p in payments if p.status == _P.AUTHORIZED]
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
                    context=_email_context(
                        order, payment_amount=last.amount if held else _received(last)
                    ),
                )
    return order
