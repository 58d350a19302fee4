"""Disputes (chargebacks): recorded from Stripe's events; the payment is `disputed` meanwhile.

A dispute suspends access (checkout listens to `payment_disputed`). Its outcome restores the
payment's earlier standing (won, or closed after a warning) or counts as money taken back (lost).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from config.transitions import Outcome, status_event_created, transition
from payments.models import DISPUTE_MACHINE, Dispute, Payment
from payments.services.transitions import payment_transition

_CLOSED_STATUS = {
    "won": Dispute.Status.WON,
    "lost": Dispute.Status.LOST,
    "warning_closed": Dispute.Status.CLOSED,
}


def dispute_transition(
    *,
    to_status: str,
    cause: str,
    dispute_id: int | None = None,
    dispute: Dispute | None = None,
    stripe_event_id: str = "",
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Dispute, str]:
    """Move a dispute by DISPUTE_TRANSITIONS (locked by id, or by the caller); returns it and
    the outcome. An ending stamps `closed_at`."""

    def stamps(row: Dispute, from_status: str) -> dict[str, Any]:
        return {"closed_at": row.closed_at or timezone.now()}

    return transition(
        DISPUTE_MACHINE,
        pk=dispute_id,
        instance=dispute,
        to_status=to_status,
        cause=cause,
        detail=detail,
        fields=fields,
        on_apply=stamps,
        history={"stripe_event_id": stripe_event_id},
    )


def dispute_open(
    *,
    payment_id: int,
    stripe_dispute_id: str,
    amount: int,
    currency: str,
    reason: str,
    stripe_status: str,
    opened_at: datetime,
    stripe_event_id: str,
    event_created: int,
) -> Dispute:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    dispute, created = Dispute.objects.select_for_update().get_or_create(
        stripe_dispute_id=stripe_dispute_id[:255],
        defaults={
            "payment": payment,
            "amount": amount,
            "currency": currency.lower()[:3],
            "reason": reason[:100],
            "stripe_status": stripe_status[:50],
            "opened_at": opened_at,
        },
    )
    if created:
        status_event_created(
            DISPUTE_MACHINE,
            instance=dispute,
            cause="charge.dispute.created",
            history={"stripe_event_id": stripe_event_id},
        )
    if not created and dispute.status != Dispute.Status.OPEN:
        # The closing event overtook this one: the outcome is already applied.
        return dispute
    payment_transition(
        payment_id=payment.pk,
        to_status=Payment.Status.DISPUTED,
        cause="charge.dispute.created",
        stripe_event_id=stripe_event_id,
        event_created=event_created,
        detail={"dispute": dispute.stripe_dispute_id, "reason": reason},
    )
    return dispute


def dispute_close(
    *,
    payment_id: int,
    stripe_dispute_id: str,
    amount: int,
    currency: str,
    reason: str,
    stripe_status: str,
    stripe_event_id: str,
    event_created: int,
) -> Dispute:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    status = _CLOSED_STATUS.get(stripe_status, Dispute.Status.CLOSED)
    dispute, created = Dispute.objects.select_for_update().get_or_create(
        stripe_dispute_id=stripe_dispute_id[:255],
        defaults={
            "payment": payment,
            "amount": amount,
            "currency": currency.lower()[:3],
            "reason": reason[:100],
            "opened_at": timezone.now(),
        },
    )
    if created:
        # The closing event overtook the opening one: the dispute starts open, then ends.
        status_event_created(
            DISPUTE_MACHINE,
            instance=dispute,
            cause="dispute_heard_at_close",
            history={"stripe_event_id": stripe_event_id},
        )
    dispute, outcome = dispute_transition(
        dispute=dispute,
        to_status=status,
        cause=f"dispute_{status}",
        stripe_event_id=stripe_event_id,
        detail={"stripe_status": stripe_status},
        fields={"stripe_status": stripe_status[:50]},
    )
    if outcome == Outcome.REFUSED:
        return dispute  # a dispute ends once: a second, different ending is on record only
    if status == Dispute.Status.LOST:
        to_status = Payment.Status.REFUNDED  # the money went back to the cardholder
    elif payment.amount_refunded >= (payment.amount_received or payment.amount):
        to_status = Payment.Status.REFUNDED
    elif payment.amount_refunded > 0:
        to_status = Payment.Status.PARTIALLY_REFUNDED
    else:
        to_status = Payment.Status.SUCCEEDED
    payment_transition(
        payment_id=payment.pk,
        to_status=to_status,
        cause=f"dispute_{status}",
        stripe_event_id=stripe_event_id,
        event_created=event_created,
        detail={"dispute": dispute.stripe_dispute_id, "stripe_status": stripe_status},
    )
    return dispute


def dispute_update(
    *,
    payment_id: int,
    stripe_dispute_id: str,
    amount: int,
    currency: str,
    reason: str,
    stripe_status: str,
    stripe_event_id: str,
    event_created: int,
    funds: str = "",
    at: datetime | None = None,
) -> Dispute:
    """A dispute's news that is not its opening or closing: `charge.dispute.updated` (evidence,
    status, reason), and `funds_withdrawn` / `funds_reinstated` (`funds`), when Stripe moved the
    money. An update for a dispute we have not seen opened opens it first (events arrive out of
    order), and an update never reopens a closed dispute."""
    dispute = (
        Dispute.objects.select_for_update().filter(stripe_dispute_id=stripe_dispute_id).first()
    )
    if dispute is None:
        dispute = dispute_open(
            payment_id=payment_id,
            stripe_dispute_id=stripe_dispute_id,
            amount=amount,
            currency=currency,
            reason=reason,
            stripe_status=stripe_status,
            opened_at=at or timezone.now(),
            stripe_event_id=stripe_event_id,
            event_created=event_created,
        )
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    update = []
    if dispute.status == Dispute.Status.OPEN:
        for name, value in (
            ("amount", amount),
            ("reason", reason[:100]),
            ("stripe_status", stripe_status[:50]),
        ):
            if value and getattr(dispute, name) != value:
                setattr(dispute, name, value)
                update.append(name)
    if funds == "withdrawn" and dispute.funds_withdrawn_at is None:
        dispute.funds_withdrawn_at = at or timezone.now()
        update.append("funds_withdrawn_at")
    if funds == "reinstated" and dispute.funds_reinstated_at is None:
        dispute.funds_reinstated_at = at or timezone.now()
        update.append("funds_reinstated_at")
    if update:
        dispute.save(update_fields=[*update, "updated_at"])
    return dispute
