"""Refunds: issued by finance from the admin, or learned from Stripe's refund.* and
charge.refunded events."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from config.audit import audit_log_record
from config.transitions import status_event_created, transition
from payments import gateway
from payments.models import REFUND_MACHINE, Payment, Refund
from payments.selectors import payment_refundable_amount, payment_refunds_total
from payments.services.transitions import payment_transition

logger = logging.getLogger(__name__)


class RefundNotAllowed(Exception):
    """The payment cannot be refunded by that amount (not paid, or more than is left)."""


class RefundFailed(Exception):
    """Stripe refused the refund, or could not be reached (then it may still have happened)."""


def stripe_refund_reason(reason: str) -> str:
    """Stripe's `reason` for our free text: `duplicate` or `fraudulent` when staff say so,
    otherwise `requested_by_customer`. Stripe adds the card and email of a `fraudulent` refund
    to the account's Radar block lists, so only an explicit mention of fraud chooses it."""
    words = reason.lower()
    if "fraud" in words:
        return "fraudulent"
    if "duplicate" in words or "charged twice" in words or "double charge" in words:
        return "duplicate"
    return "requested_by_customer"


def refund_transition(
    *,
    to_status: str,
    cause: str,
    refund_id: int | None = None,
    refund: Refund | None = None,
    actor: Any = None,
    detail: dict | None = None,
    stripe_event_id: str = "",
) -> tuple[Refund, str]:
    """Move a refund by REFUND_TRANSITIONS (locked by id, or by the caller); returns it and the
    outcome. An older `refund.updated` that says `pending` after `succeeded` is refused and
    recorded, never applied."""
    return transition(
        REFUND_MACHINE,
        pk=refund_id,
        instance=refund,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        history={"stripe_event_id": stripe_event_id},
    )


def _refunded_status(*, total_refunded: int, charged: int) -> str:
    if total_refunded >= charged:
        return Payment.Status.REFUNDED
    return Payment.Status.PARTIALLY_REFUNDED


def payment_refund(
    *,
    payment_id: int,
    amount: int | None,
    reason: str,
    actor: Any,
    request_key: str,
) -> Refund:
    """Refund all (`amount=None`) or part of a payment, exactly once per `request_key`.

    `request_key` identifies the staff request (the admin form carries one), so a double submit
    returns the first refund. The payment row stays locked while Stripe is called, so two
    concurrent calls never both reach it. Stripe gets its own `reason` (`stripe_refund_reason`);
    our words stay in our Refund row and go in the refund's metadata.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RefundNotAllowed("Say why the payment is refunded.")
    key = f"payment:{payment_id}:refund:{request_key}"[:255]
    failure: RefundFailed | None = None
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.filter(idempotency_key=key).first()
        if refund is not None and (refund.stripe_refund_id or refund.status == "failed"):
            return refund
        if refund is None:
            refundable = payment_refundable_amount(payment=payment)
            amount = refundable if amount is None else int(amount)
            if not payment.stripe_payment_intent_id or refundable <= 0:
                raise RefundNotAllowed(f"Payment {payment} has nothing left to refund.")
            if amount <= 0 or amount > refundable:
                raise RefundNotAllowed(
                    f"The amount must be between 1 and {refundable} {payment.currency.upper()} "
                    "minor units."
                )
            refund = Refund.objects.create(
                payment=payment,
                idempotency_key=key,
                amount=amount,
                currency=payment.currency,
                reason=reason[:500],
                requested_by=actor if getattr(actor, "pk", None) else None,
            )
            status_event_created(
                REFUND_MACHINE, instance=refund, cause="staff_refund_requested", actor=actor
            )
        try:
            result = gateway.refund_create(
                payment_intent_id=payment.stripe_payment_intent_id,
                amount=refund.amount,
                idempotency_key=f"refund:{refund.pk}",
                metadata={
                    "refund_id": str(refund.pk),
                    "payment_id": str(payment.pk),
                    # Stripe keeps at most 500 characters per metadata value.
                    "reason": refund.reason[:500],
                },
                reason=stripe_refund_reason(refund.reason),
            )
        except gateway.GatewayUnavailable as exc:
            # It may have happened: the row stays pending and counts against what is left.
            failure = RefundFailed(f"Stripe could not be reached; try again later ({exc}).")
        except gateway.GatewayError as exc:
            refund_transition(
                refund=refund,
                to_status=Refund.Status.FAILED,
                cause="stripe_refused",
                actor=actor,
                detail={"error": str(exc)[:300]},
            )
            failure = RefundFailed(f"Stripe refused the refund: {exc}")
        else:
            refund.stripe_refund_id = result.id
            refund.save(update_fields=["stripe_refund_id", "updated_at"])
            refund_transition(
                refund=refund,
                to_status=(
                    result.status
                    if result.status in Refund.Status.values
                    else Refund.Status.PENDING
                ),
                cause="staff_refund",
                actor=actor,
                detail={"stripe_refund_id": result.id},
            )
            total = payment_refunds_total(payment=payment)
            payment_transition(
                payment_id=payment.pk,
                to_status=_refunded_status(
                    total_refunded=total, charged=payment.amount_received or payment.amount
                ),
                cause="staff_refund",
                actor=actor,
                detail={"refund_id": refund.pk, "stripe_refund_id": result.id},
                fields={"amount_refunded": total},
            )
        audit_log_record(
            actor=actor,
            action="payments.refund" if failure is None else "payments.refund_failed",
            target=refund,
            detail={
                "payment_id": payment.pk,
                "amount": refund.amount,
                "currency": refund.currency,
                "reason": refund.reason,
                "error": str(failure) if failure else "",
            },
        )
    if failure is not None:
        raise failure
    return refund


def payment_refunds_sync(
    *,
    payment_id: int,
    amount_refunded: int,
    charged: int,
    stripe_event_id: str = "",
    event_created: int = 0,
    cause: str = "charge.refunded",
) -> Payment:
    """Apply a charge's refunded total (charge.refunded). The charge carries no list of its
    refunds (not since API version 2022-11-15): each refund's own row comes from its
    `refund.*` event (`refund_sync`), including refunds issued in Stripe's dashboard."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if amount_refunded <= 0:
        return payment
    total = max(amount_refunded, payment_refunds_total(payment=payment))
    payment, _ = payment_transition(
        payment_id=payment.pk,
        to_status=_refunded_status(total_refunded=total, charged=charged),
        cause=cause,
        stripe_event_id=stripe_event_id,
        event_created=event_created,
        detail={"amount_refunded": amount_refunded},
        fields={"amount_refunded": total},
    )
    return payment


def refund_sync(
    *, payment_id: int, refund: dict[str, Any], cause: str, stripe_event_id: str = ""
) -> Refund:
    """Apply one refund as Stripe shows it (`refund.created`, `refund.updated`,
    `refund.failed`): its row (created for a refund issued at Stripe), its status, and the
    payment's refunded amount.

    A refund that failed or was canceled gives nothing back: the amount is corrected, but the
    status stays (the state machine never returns a paid payment to `succeeded` on its own,
    which would re-send payment_succeeded), and the history says why, for finance.
    """
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    row = _refund_row_sync(
        payment=payment, data=refund, cause=cause, stripe_event_id=stripe_event_id
    )
    total = payment_refunds_total(payment=payment, trust_payment_figure=False)
    charged = payment.amount_received or payment.amount
    detail = {"refund": row.stripe_refund_id, "refund_status": row.status}
    if row.status in (Refund.Status.FAILED, Refund.Status.CANCELED) or total == 0:
        payment_transition(
            payment_id=payment.pk,
            to_status=payment.status,
            cause=cause,
            stripe_event_id=stripe_event_id,
            detail=detail,
            fields={"amount_refunded": total},
        )
        if row.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
            logger.warning(
                "refund %s for payment %s is %s", row.stripe_refund_id, payment.pk, row.status
            )
        return row
    payment_transition(
        payment_id=payment.pk,
        to_status=_refunded_status(total_refunded=total, charged=charged),
        cause=cause,
        stripe_event_id=stripe_event_id,
        detail=detail,
        fields={"amount_refunded": max(total, payment.amount_refunded)},
    )
    return row


def _refund_row_sync(
    *, payment: Payment, data: dict[str, Any], cause: str, stripe_event_id: str
) -> Refund:
    stripe_id = str(data["id"])[:255]
    status = str(data.get("status") or "")
    if status == "requires_action":
        status = Refund.Status.PENDING  # the customer must act before the money moves
    refund = Refund.objects.select_for_update().filter(stripe_refund_id=stripe_id).first()
    if refund is None:
        metadata = data.get("metadata") or {}
        ours = str(metadata.get("refund_id") or "")
        if ours.isdigit():
            refund = (
                Refund.objects.select_for_update().filter(pk=int(ours), payment=payment).first()
            )
    if refund is None:
        refund = Refund.objects.create(
            payment=payment,
            idempotency_key=f"stripe:{stripe_id}",
            stripe_refund_id=stripe_id,
            amount=int(data.get("amount") or 0) or 1,
            currency=str(data.get("currency") or payment.currency)[:3],
            reason="Issued at Stripe (not from the portal)",
            status=status if status in Refund.Status.values else Refund.Status.PENDING,
        )
        status_event_created(
            REFUND_MACHINE,
            instance=refund,
            cause=cause,
            history={"stripe_event_id": stripe_event_id},
        )
        return refund
    if not refund.stripe_refund_id:
        refund.stripe_refund_id = stripe_id
        refund.save(update_fields=["stripe_refund_id", "updated_at"])
    if status in Refund.Status.values and status != refund.status:
        refund, _ = refund_transition(
            refund=refund,
            to_status=status,
            cause=cause,
            stripe_event_id=stripe_event_id,
            detail={"stripe_refund_id": stripe_id},
        )
    return refund
