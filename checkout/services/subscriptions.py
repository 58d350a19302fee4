"""Renewals of recurring offers, charged off-session with the buyer's saved card.

Each renewal period is its own Order (so it has its own amounts, payment, access and emails),
found again by a checkout token derived from the subscription and the period start, and its
own Payment keyed `subscription:<id>:<period start>`. Running the renewal twice, from two beat
processes or after a crash, charges the period at most once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import ORDER_MACHINE, SUBSCRIPTION_MACHINE, Order, Subscription
from checkout.services.accounting import order_payment_record
from checkout.services.orders import order_reference_new, order_transition
from checkout.services.pricing import next_renewal
from config.audit import audit_log_record
from config.transitions import Outcome, status_event_created, transition
from payments.models import Customer, Payment
from payments.services.charge import payment_prepare, payment_start
from payments.services.transitions import payment_transition

logger = logging.getLogger(__name__)

# Renewal orders' checkout tokens are uuid5(this, "subscription:<id>:<period start>").
RENEWAL_TOKEN_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4c8e-9a51-2f7d3e9b8c10")


def _renewal_order(subscription: Subscription, period_start: datetime) -> Order:
    first = subscription.order
    token = uuid.uuid5(
        RENEWAL_TOKEN_NAMESPACE, f"subscription:{subscription.pk}:{period_start.isoformat()}"
    )
    lines = [
        {**line, "description": f"{line.get('description', first.offer.name)} (renewal)"}
        for line in (first.lines or [])
    ]
    try:
        with transaction.atomic():
            order, created = Order.objects.get_or_create(
                checkout_token=token,
                defaults={
                    "offer": first.offer,
                    "reference": order_reference_new(),
                    "lead": first.lead,
                    "email": first.email,
                    "name": first.name,
                    "billing_country": first.billing_country,
                    "lines": lines,
                    "currency": subscription.currency,
                    "subtotal": first.subtotal,
                    "tax": first.tax,
                    "total": subscription.amount,
                    "amount_due_now": subscription.amount,
                    "balance": subscription.amount,
                    "terms_accepted_at": first.terms_accepted_at,
                },
            )
            if created:
                status_event_created(
                    ORDER_MACHINE,
                    instance=order,
                    cause="subscription_renewal",
                    detail={
                        "subscription": subscription.pk,
                        "period_start": period_start.isoformat(),
                    },
                )
    except IntegrityError:
        order = Order.objects.get(checkout_token=token)
    return order


def _renewal_key(subscription_id: int, period_start: datetime) -> str:
    return f"subscription:{subscription_id}:{period_start.isoformat()}"


def subscription_renew(*, subscription_id: int, now: datetime | None = None) -> Payment | None:
    """Charge the subscription's due period once; advance it when paid.

    A decline, or a bank asking for the buyer (3DS) when they are not there, makes the
    subscription past due: no further charge until it is settled. A payment still processing is
    looked at again on the next run, which finds the same Payment rather than charging again.

    Cancel and charge are serialised on the subscription row:
    1. Claim (`skip_locked`, so beat processes share the work) and create the period's Order.
    2. Create the Payment row and commit it, so its key and pk (from which the Stripe
       idempotency key is built) are stable whatever happens next.
    3. Take a blocking lock on the subscription, re-check it is still active and this period is
       still due, and keep the lock across the PaymentIntent create+confirm.
    A cancel committed before step 3 is seen there: the untouched Payment and the Order are
    canceled and Stripe is never called. A cancel arriving during step 3 waits for the charge
    to finish, so what it tells the buyer (see `subscription_renewal_charged`) is true.

    Trade-off: the row lock is held for one Stripe round trip (an off-session create confirms
    in the same call), so a cancel may wait for up to the gateway timeout. Nothing else locks
    subscriptions on the hot path, and the alternative, charging without the lock, can take
    money after the buyer was told nothing more will be charged. The order's bookkeeping
    (`order_payment_record`: emails, access) runs after the lock is released.
    """
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("order__offer", "order__lead", "customer")
            .filter(pk=subscription_id)
            .first()
        )
        if (
            subscription is None
            or subscription.status != Subscription.Status.ACTIVE
            or subscription.next_charge_at > now
        ):
            return None
        period_start = subscription.next_charge_at
        order = _renewal_order(subscription, period_start)
        customer = subscription.customer
    # The card saved for this subscription, never the email's latest card (D1).
    if not subscription.payment_method_id:
        _past_due(subscription.pk, reason="no saved card")
        return None
    charge = {
        "idempotency_key": _renewal_key(subscription.pk, period_start),
        "amount": subscription.amount,
        "currency": subscription.currency,
        "customer": customer,
        "payment_method_id": subscription.payment_method_id,
        "attempt_kind": Payment.AttemptKind.RENEWAL,
        "order_id": order.pk,
        "metadata": {"subscription_id": str(subscription.pk)},
    }
    payment = payment_prepare(**charge)

    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if locked.status != Subscription.Status.ACTIVE or locked.next_charge_at != period_start:
            _renewal_abandon(payment, reason=f"subscription {locked.status}")
            return None
        # payment_start's own transactions are savepoints here: its row lock and the intent id
        # commit together with this block, while the subscription is still locked.
        payment = payment_start(**charge, off_session=True)

    if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.AUTHORIZED):
        order_payment_record(payment_id=payment.pk)
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
            if subscription.next_charge_at == period_start:
                subscription.current_period_start = period_start
                subscription.next_charge_at = next_renewal(
                    start=period_start, interval=subscription.interval
                )
                subscription.save(update_fields=["current_period_start", "next_charge_at"])
    elif payment.status in (Payment.Status.FAILED, Payment.Status.REQUIRES_ACTION):
        order_payment_record(payment_id=payment.pk)
        _past_due(subscription.pk, reason=f"renewal payment {payment.pk} {payment.status}")
    return payment


def _renewal_abandon(payment: Payment, *, reason: str) -> None:
    """The subscription stopped between the claim and the charge: withdraw the untouched attempt.

    Only a Payment that never reached Stripe is canceled; one that did (an earlier run) keeps its
    state and is reconciled as usual. The renewal Order is canceled when none of its payments
    reached Stripe.
    """
    payment = Payment.objects.get(pk=payment.pk)
    untouched = (
        payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD
        and not payment.stripe_payment_intent_id
        and not payment.events.exists()
    )
    if untouched:
        payment_transition(
            payment_id=payment.pk,
            to_status=Payment.Status.CANCELED,
            cause="subscription_stopped",
            detail={"reason": reason},
        )
    others = Payment.objects.filter(order_id=payment.order_id).exclude(
        status=Payment.Status.CANCELED
    )
    if untouched and not others.exists():
        order_transition(
            order_id=payment.order_id,
            to_status=Order.Status.CANCELED,
            cause="subscription_stopped",
            detail={"reason": reason},
            fields={"balance": 0},
        )
    logger.info("renewal payment %s not charged: %s", payment.pk, reason)


def subscription_renewal_charged(*, subscription: Subscription) -> Payment | None:
    """The renewal payment of the period the buyer is in or is being charged for, if any.

    Read after `subscription_cancel`, which waits for a renewal charge in progress: a payment
    found here was taken (or is still being processed) before the cancel, and the buyer must
    be told so rather than that nothing was charged.
    """
    keys = {
        _renewal_key(subscription.pk, moment)
        for moment in (subscription.current_period_start, subscription.next_charge_at)
        if moment is not None
    }
    return (
        Payment.objects.filter(idempotency_key__in=keys, attempt_kind=Payment.AttemptKind.RENEWAL)
        .exclude(status__in=[Payment.Status.FAILED, Payment.Status.CANCELED])
        .order_by("-created_at")
        .first()
    )


def subscription_transition(
    *,
    to_status: str,
    cause: str,
    subscription_id: int | None = None,
    subscription: Subscription | None = None,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Subscription, str]:
    """Move a subscription by SUBSCRIPTION_TRANSITIONS; returns it and the outcome.

    Locks the row by id (or takes one the caller locked), records a SubscriptionEvent whatever
    the outcome, stamps `canceled_at` on a cancel and leaves an audit entry for an applied move.
    """

    def stamps(row: Subscription, from_status: str) -> dict[str, Any]:
        if to_status == Subscription.Status.CANCELED:
            return {"canceled_at": timezone.now()}
        return {}

    with transaction.atomic():
        subscription, outcome = transition(
            SUBSCRIPTION_MACHINE,
            pk=subscription_id,
            instance=subscription,
            to_status=to_status,
            cause=cause,
            actor=actor,
            detail=detail,
            fields=fields,
            on_apply=stamps,
        )
        if outcome == Outcome.APPLIED:
            audit_log_record(
                actor=actor,
                action=_AUDIT_ACTION.get(to_status, "subscription.status_changed"),
                target=subscription,
                detail={**(detail or {}), "cause": cause},
            )
    return subscription, outcome


_AUDIT_ACTION = {
    Subscription.Status.PAST_DUE: "subscription.past_due",
    Subscription.Status.CANCELED: "subscription.cancel",
    Subscription.Status.ACTIVE: "subscription.past_due_settled",
}


def _past_due(subscription_id: int, *, reason: str) -> None:
    subscription_transition(
        subscription_id=subscription_id,
        to_status=Subscription.Status.PAST_DUE,
        cause="renewal_unpaid",
        detail={"reason": reason},
    )
    logger.info("subscription %s is past due: %s", subscription_id, reason)


def subscription_cancel(*, subscription: Subscription, actor: Any = None, by: str) -> Subscription:
    """Stop future renewals. What was paid for stays available to the end of its period.

    Waits for a renewal charge in progress (it holds the row lock): no charge starts after this
    commits. Ask `subscription_renewal_charged` what was taken just before.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status == Subscription.Status.CANCELED:
            return subscription
        subscription, _ = subscription_transition(
            subscription=subscription,
            to_status=Subscription.Status.CANCELED,
            cause=f"canceled_by_{by}"[:100],
            actor=actor,
            detail={"by": by},
        )
    return subscription


def subscription_card_replace(
    *, subscription_id: int, customer: Customer, payment_method_id: str
) -> Subscription:
    """Renew with another card: one the buyer proved in the portal (`customer_card_prove`), so
    it belongs to `customer`, their verified Customer, which then pays the renewals."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        subscription.customer = customer
        subscription.payment_method_id = payment_method_id
        subscription.save(update_fields=["customer", "payment_method_id"])
    return subscription


def subscription_past_due_settle(*, subscription_id: int, order_id: int) -> Subscription:
    """The renewal a subscription is past due on was paid late (dunning: a retry, a payment
    link, a bank transfer): it renews again, from the period that payment covered.

    Only the renewal order of the period the subscription is stuck on counts, and only once it
    is paid; anything else leaves the subscription as it is. Idempotent.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        if subscription.status != Subscription.Status.PAST_DUE:
            return subscription
        period_start = subscription.next_charge_at
        token = uuid.uuid5(
            RENEWAL_TOKEN_NAMESPACE, f"subscription:{subscription.pk}:{period_start.isoformat()}"
        )
        order = Order.objects.filter(pk=order_id, checkout_token=token).first()
        if order is None or order.status != Order.Status.PAID:
            return subscription
        subscription, _ = subscription_transition(
            subscription=subscription,
            to_status=Subscription.Status.ACTIVE,
            cause="past_due_settled",
            detail={"order": order.reference, "period_start": period_start.isoformat()},
            fields={
                "current_period_start": period_start,
                "next_charge_at": next_renewal(start=period_start, interval=subscription.interval),
            },
        )
    return subscription
