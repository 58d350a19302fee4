"""What an order's payments add up to, and what their history says (a lost dispute, a hold
staff released). Pure reads: no writes here."""

from __future__ import annotations

from dataclasses import dataclass

from payments.models import PAID_STATUSES, Dispute, Payment, PaymentEvent

_P = Payment.Status

# Suspensions because nothing secures the access any more (see the package docstring).
HOLD_LAPSED = "hold_lapsed"
HOLD_RELEASED = "hold_released"
UNSECURED = {HOLD_LAPSED, HOLD_RELEASED}
# A payment in one of these may still turn out to hold or take money: access stays until we know.
UNSETTLED = {_P.REQUIRES_ACTION, _P.PROCESSING, _P.UNKNOWN}
# PaymentEvent causes of a release staff asked for (payments.services.capture.payment_release).
STAFF_RELEASE_CAUSES = ("staff_release", "timeout_on_release")


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


def received_amount(payment: Payment) -> int:
    # amount_received is set from Stripe on success; a paid row without it received its amount.
    return payment.amount_received or payment.amount


def order_totals(*, payments: list[Payment]) -> OrderTotals:
    paid = refunded = authorized = released = 0
    for p in payments:
        if p.status in PAID_STATUSES:
            received = received_amount(p)
            paid += received
            gone = received if p.status == _P.REFUNDED else p.amount_refunded
            refunded += min(received, gone)
            if p.capture_method == Payment.CaptureMethod.MANUAL:
                released += max(p.amount - received, 0)
        elif p.status == _P.AUTHORIZED:
            authorized += p.amount
    return OrderTotals(paid=paid, refunded=refunded, authorized=authorized, released=released)


def paid_in_order(payments: list[Payment]) -> list[Payment]:
    paid = [p for p in payments if p.status in PAID_STATUSES]
    # The order in which the money arrived decides which payment is the extra one, so the
    # answer is the same whichever event is processed first.
    return sorted(paid, key=lambda p: (p.succeeded_at or p.created_at, p.pk))


def released_at_staff_request(hold_ids: list[int]) -> set[int]:
    """The holds among `hold_ids` that ended because staff released them: a staff release
    (`staff_release`, or `timeout_on_release` when Stripe's answer was lost) not followed by
    the hold being seen authorised again (a release Stripe never ran; a later end is a lapse)."""
    events = PaymentEvent.objects.filter(payment_id__in=hold_ids).order_by("created_at", "pk")
    asked: dict[int, bool] = {}
    for event in events.only("payment_id", "cause", "to_status", "outcome"):
        if event.cause in STAFF_RELEASE_CAUSES:
            asked[event.payment_id] = True
        elif (
            event.to_status == _P.AUTHORIZED
            and event.outcome == PaymentEvent.Outcome.APPLIED
            and asked.get(event.payment_id)
        ):
            asked[event.payment_id] = False
    return {payment_id for payment_id, released in asked.items() if released}


def lost_dispute(payment: Payment) -> bool:
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
