"""What each Stripe event type does (STYLE.md: a dict of handlers, not signals).

Every handler runs inside the inbox's processing transaction, so its effects commit together with
the event's `processed` mark. Payment status only changes through `payment_transition` /
`payment_apply_intent`, which lock the Payment row, refuse a regression out of `succeeded`, record
a stale event as such (its `created` is older than the newest applied) and write the history.

The one rule for an event that cannot apply to what we know yet (a refund or a dispute for a
payment whose success we have not heard of, an intent event that lost the race with a newer
one): the handler asks Stripe for the object's current state and applies that. When Stripe
cannot be asked, or its answer still does not allow the event, the handler raises
`NotYetApplicable`: nothing is applied, the event is `failed`, and the sweeper retries it with
backoff until it applies or, after the last attempt, is a dead letter for staff. An event is
never marked processed before its effect is in. (An event about an object this installation
never made is different: it is kept, marked `unmatched`, and replayable from the admin.)
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from payments import gateway
from payments.models import PAID_STATUSES, Customer, Payment, PaymentEvent, WebhookEvent
from payments.services.disputes import dispute_close, dispute_open, dispute_update
from payments.services.refunds import payment_refunds_sync, refund_sync
from payments.services.transitions import payment_apply_intent
from payments.webhooks import HANDLERS, UnknownObject

logger = logging.getLogger(__name__)


class NotYetApplicable(Exception):
    """The event cannot apply yet, and Stripe could not tell us more now: retried later."""


# The statuses each PaymentIntent event means, whatever its (possibly stale) snapshot says.
_INTENT_EVENT_STATUS = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.processing": "processing",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.canceled": "canceled",
    "payment_intent.amount_capturable_updated": "requires_capture",
}


# Refunds and disputes live on the charge: the intent still says `succeeded`, so asking it again
# cannot tell more than we know.
_BEYOND_THE_INTENT = {
    Payment.Status.PARTIALLY_REFUNDED,
    Payment.Status.REFUNDED,
    Payment.Status.DISPUTED,
}


def _object(event: WebhookEvent) -> dict[str, Any]:
    data = (event.payload.get("data") or {}).get("object") or {}
    return data if isinstance(data, dict) else {}


def _created(event: WebhookEvent) -> int:
    return int(event.payload.get("created") or 0)


def _id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def payment_for_intent(*, payment_intent_id: str, metadata: dict | None = None) -> Payment:
    """Our Payment for a PaymentIntent id.

    Falls back on the `payment_id` we put in the intent's metadata: an event can overtake the
    commit that saved the intent id (the row itself was committed before Stripe was called).
    """
    payment = Payment.objects.filter(stripe_payment_intent_id=payment_intent_id).first()
    if payment is None and payment_intent_id:
        raw = (metadata or {}).get("payment_id")
        if raw and str(raw).isdigit():
            payment = Payment.objects.filter(
                Q(stripe_payment_intent_id__isnull=True)
                | Q(stripe_payment_intent_id="")
                | Q(stripe_payment_intent_id=payment_intent_id),
                pk=int(raw),
            ).first()
    if payment is None:
        raise UnknownObject(f"no payment for PaymentIntent {payment_intent_id or '(none)'}")
    return payment


def payment_for_charge(*, charge: dict[str, Any]) -> Payment:
    intent_id = _id(charge.get("payment_intent"))
    if intent_id:
        return payment_for_intent(payment_intent_id=intent_id, metadata=charge.get("metadata"))
    charge_id = _id(charge.get("id")) or _id(charge.get("charge"))
    payment = Payment.objects.filter(stripe_charge_id=charge_id).first() if charge_id else None
    if payment is None:
        raise UnknownObject(f"no payment for charge {charge_id or '(none)'}")
    return payment


def _refetch_intent(*, payment: Payment, event: WebhookEvent, outcome: str) -> None:
    """Ask Stripe for the intent's current state and apply it (the event could not be).

    A stale event is superseded by a newer one we applied, so when Stripe cannot be asked it is
    simply recorded; a refused one means our state may be wrong, so it is retried later."""
    try:
        current = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    except gateway.GatewayError as exc:
        if outcome == PaymentEvent.Outcome.REFUSED:
            raise NotYetApplicable(
                f"{event.type} was refused for payment {payment.pk} ({payment.status}) and "
                f"Stripe could not be asked for its current state: {exc}"
            ) from exc
        logger.warning("refetch of %s failed: %s", payment.stripe_payment_intent_id, exc)
        return
    payment_apply_intent(
        payment_id=payment.pk,
        result=current,
        cause="refetch",
        stripe_event_id=event.stripe_event_id,
    )
    _remember_charge(payment_id=payment.pk, result=current)


def _remember_charge(*, payment_id: int, result: gateway.PaymentIntentResult) -> None:
    if result.charge_id:
        Payment.objects.filter(pk=payment_id, stripe_charge_id="").update(
            stripe_charge_id=result.charge_id[:255]
        )


def handle_payment_intent(event: WebhookEvent) -> None:
    data = _object(event)
    intent_id = _id(data.get("id"))
    payment = payment_for_intent(payment_intent_id=intent_id, metadata=data.get("metadata"))
    result = gateway.payment_intent_from_object(data)
    if event.type == "payment_intent.payment_failed":
        # The snapshot says requires_payment_method; the event says the attempt failed.
        result = dataclasses.replace(
            result,
            status="requires_payment_method",
            last_error_code=result.last_error_code or "payment_failed",
        )
    else:
        result = dataclasses.replace(result, status=_INTENT_EVENT_STATUS[event.type])
    _, outcome = payment_apply_intent(
        payment_id=payment.pk,
        result=result,
        cause=event.type,
        stripe_event_id=event.stripe_event_id,
        event_created=_created(event),
    )
    _remember_charge(payment_id=payment.pk, result=result)
    payment = Payment.objects.get(pk=payment.pk)
    if (
        outcome in (PaymentEvent.Outcome.STALE, PaymentEvent.Outcome.REFUSED)
        and payment.status not in _BEYOND_THE_INTENT
    ):
        # The order of events mattered and this one lost: let Stripe say what is true now.
        _refetch_intent(payment=payment, event=event, outcome=outcome)


def _payment_paid(*, payment: Payment, event: WebhookEvent) -> Payment:
    """The payment, paid: a refund or a dispute is only ever about money that arrived. When we
    have not heard of the success yet (its event is late), Stripe is asked and its answer
    applied first, so the success and the refund land in the right order."""
    if payment.status in PAID_STATUSES:
        return payment
    if not payment.stripe_payment_intent_id:
        raise NotYetApplicable(f"payment {payment.pk} has no PaymentIntent yet")
    try:
        current = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    except gateway.GatewayError as exc:
        raise NotYetApplicable(
            f"{event.type} for payment {payment.pk} ({payment.status}); Stripe could not be "
            f"asked for its current state: {exc}"
        ) from exc
    payment_apply_intent(
        payment_id=payment.pk,
        result=current,
        cause="refetch",
        stripe_event_id=event.stripe_event_id,
    )
    _remember_charge(payment_id=payment.pk, result=current)
    payment = Payment.objects.get(pk=payment.pk)
    if payment.status not in PAID_STATUSES:
        raise NotYetApplicable(
            f"{event.type} for payment {payment.pk}, which Stripe shows as {current.status}"
        )
    return payment


def handle_charge_refunded(event: WebhookEvent) -> None:
    charge = _object(event)
    payment = _payment_paid(payment=payment_for_charge(charge=charge), event=event)
    payment_refunds_sync(
        payment_id=payment.pk,
        amount_refunded=int(charge.get("amount_refunded") or 0),
        charged=int(charge.get("amount_captured") or charge.get("amount") or payment.amount),
        stripe_event_id=event.stripe_event_id,
        event_created=_created(event),
    )


def handle_refund(event: WebhookEvent) -> None:
    """refund.created, refund.updated and refund.failed: one refund as Stripe shows it."""
    refund = _object(event)
    if not _id(refund.get("id")):
        raise UnknownObject("refund event without a refund id")
    intent_id = _id(refund.get("payment_intent"))
    if intent_id:
        payment = payment_for_intent(payment_intent_id=intent_id, metadata=refund.get("metadata"))
    else:
        payment = payment_for_charge(charge={"id": _id(refund.get("charge"))})
    payment = _payment_paid(payment=payment, event=event)
    refund_sync(
        payment_id=payment.pk,
        refund=refund,
        cause=event.type,
        stripe_event_id=event.stripe_event_id,
    )


def _dispute_args(event: WebhookEvent) -> tuple[dict, dict]:
    """The dispute in the event, and what the dispute services are told about it."""
    dispute = _object(event)
    payment = payment_for_charge(
        charge={"payment_intent": dispute.get("payment_intent"), "id": _id(dispute.get("charge"))}
    )
    payment = _payment_paid(payment=payment, event=event)
    return dispute, {
        "payment_id": payment.pk,
        "stripe_dispute_id": _id(dispute.get("id")),
        "amount": int(dispute.get("amount") or 0),
        "currency": str(dispute.get("currency") or payment.currency),
        "reason": str(dispute.get("reason") or ""),
        "stripe_status": str(dispute.get("status") or ""),
        "stripe_event_id": event.stripe_event_id,
        "event_created": _created(event),
    }


def handle_dispute_created(event: WebhookEvent) -> None:
    dispute, args = _dispute_args(event)
    dispute_open(**args, opened_at=_timestamp(dispute.get("created")))


def handle_dispute_updated(event: WebhookEvent) -> None:
    """charge.dispute.updated, funds_withdrawn and funds_reinstated."""
    _dispute, args = _dispute_args(event)
    funds = {
        "charge.dispute.funds_withdrawn": "withdrawn",
        "charge.dispute.funds_reinstated": "reinstated",
    }.get(event.type, "")
    dispute_update(**args, funds=funds, at=_timestamp(event.payload.get("created")))


def handle_dispute_closed(event: WebhookEvent) -> None:
    _dispute, args = _dispute_args(event)
    dispute_close(**args)


def handle_setup_intent_succeeded(event: WebhookEvent) -> None:
    """A card was saved. Keep it as the customer's card if they have none yet; the checkout
    flow saves brand and expiry through `customer_card_save`."""
    setup = _object(event)
    customer_id = _id(setup.get("customer"))
    customer = Customer.objects.select_for_update().filter(stripe_customer_id=customer_id).first()
    if customer is None or not customer_id:
        raise UnknownObject(f"no customer for SetupIntent {_id(setup.get('id'))}")
    payment_method = _id(setup.get("payment_method"))
    if payment_method and not customer.payment_method_id:
        customer.payment_method_id = payment_method[:255]
        customer.save(update_fields=["payment_method_id", "updated_at"])


def handle_setup_intent_failed(event: WebhookEvent) -> None:
    """Nothing to change: no card was saved. Recorded (processed) so it is visible."""
    setup = _object(event)
    customer_id = _id(setup.get("customer"))
    if not customer_id or not Customer.objects.filter(stripe_customer_id=customer_id).exists():
        raise UnknownObject(f"no customer for SetupIntent {_id(setup.get('id'))}")
    error = setup.get("last_setup_error") or {}
    logger.info(
        "card setup failed for customer %s: %s", customer_id, (error or {}).get("code") or "-"
    )


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError):
        return datetime.now(tz=UTC)


HANDLERS.update(
    {
        "payment_intent.succeeded": handle_payment_intent,
        "payment_intent.payment_failed": handle_payment_intent,
        "payment_intent.processing": handle_payment_intent,
        "payment_intent.requires_action": handle_payment_intent,
        "payment_intent.canceled": handle_payment_intent,
        "payment_intent.amount_capturable_updated": handle_payment_intent,
        "charge.refunded": handle_charge_refunded,
        "refund.created": handle_refund,
        "refund.updated": handle_refund,
        "refund.failed": handle_refund,
        "charge.dispute.created": handle_dispute_created,
        "charge.dispute.updated": handle_dispute_updated,
        "charge.dispute.funds_withdrawn": handle_dispute_updated,
        "charge.dispute.funds_reinstated": handle_dispute_updated,
        "charge.dispute.closed": handle_dispute_closed,
        "setup_intent.succeeded": handle_setup_intent_succeeded,
        "setup_intent.setup_failed": handle_setup_intent_failed,
    }
)
