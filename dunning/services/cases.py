"""Opening and closing cases.

A case opens for (DESIGN.md §1):
- a checkout payment that failed and was not followed by a success within the grace period
  (DUNNING_CHECKOUT_GRACE_MINUTES): a trigger waits out the grace;
- a declined renewal (the subscription is past due): at once;
- a deposit's balance that is overdue (with a reminder a few days before it falls due).

It closes as recovered when the order no longer owes what the case is about, whatever brought
the money (a retry, the payment link, the portal, a transfer, a webhook), and as canceled when
the order is refunded or canceled. What opens one is dunning/services/triggers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import Order, Subscription
from checkout.services.accounting import order_payment_record
from checkout.services.subscriptions import subscription_past_due_settle
from dunning.declines import decline_classify
from dunning.models import DunningCase, DunningCaseEvent, PaymentLink
from dunning.schedule import language_for, zone_for
from dunning.selectors import case_amount_owed, order_latest_paid, payment_channel
from dunning.services.plan import case_plan_first
from dunning.services.policies import dunning_policy_for
from dunning.services.transitions import dunning_case_transition
from payments.models import Payment

_S = DunningCase.Status


def _owner_for(order: Order):
    """The lead's Sales owner, if they can still work cases; else the shared Sales queue."""
    lead = order.lead
    owner = lead.owner if lead is not None and lead.owner_id else None
    if owner is None or not owner.is_active or not owner.is_staff:
        return None
    return owner


def _subscription_for_renewal(payment: Payment | None) -> Subscription | None:
    if payment is None or payment.attempt_kind != Payment.AttemptKind.RENEWAL:
        return None
    subscription_id = (payment.metadata or {}).get("subscription_id")
    if not subscription_id:
        return None
    return Subscription.objects.filter(pk=subscription_id).select_related("customer").first()


def dunning_case_open(
    *,
    order_id: int,
    cause: str,
    failed_at: datetime,
    payment_id: int | None = None,
    now: datetime | None = None,
) -> DunningCase | None:
    """Open the case for this order and cause, once (unique together). Returns the case, the
    existing one if it was opened before, or None when there is nothing to follow: the order is
    paid or canceled, its offer is not dunned, or nothing is owed."""
    # Offsets from the failure are real durations: keep instants in UTC, where adding a day
    # is 24 hours (on a datetime in a local zone, Python adds wall-clock time).
    now = (now or timezone.now()).astimezone(UTC)
    failed_at = failed_at.astimezone(UTC)
    existing = DunningCase.objects.filter(order_id=order_id, cause=cause).first()
    if existing is not None:
        return existing
    order = Order.objects.select_related("offer", "lead", "customer").get(pk=order_id)
    policy = dunning_policy_for(offer=order.offer)
    owed = case_amount_owed(order=order, cause=cause)
    if policy is None or owed <= 0:
        return None
    payment = Payment.objects.filter(pk=payment_id).first() if payment_id else None
    subscription = _subscription_for_renewal(payment)
    if cause == DunningCase.Cause.DEPOSIT:
        rule = decline_classify(decline_code="balance_due")
    else:
        rule = decline_classify(
            decline_code=payment.decline_code if payment else "",
            failure_code=payment.failure_code if payment else "",
        )
    if payment is not None and payment.status == Payment.Status.REQUIRES_ACTION:
        rule = decline_classify(decline_code="authentication_required")
    if subscription is not None:
        customer, card = subscription.customer, subscription.payment_method_id
        # A renewal fails at or after its period starts (where a past-due subscription stays):
        # discovery recognises the period's case by that.
        failed_at = max(failed_at, subscription.next_charge_at)
    else:
        customer = order.customer
        card = customer.payment_method_id if customer is not None else ""
    phone = order.lead.phone if order.lead_id else ""
    try:
        with transaction.atomic():
            case = DunningCase.objects.create(
                order=order,
                cause=cause,
                subscription=subscription,
                policy=policy,
                amount=owed,
                currency=order.currency,
                failed_payment=payment,
                customer=customer,
                decline_code=rule.code if rule.known else (payment.decline_code if payment else ""),
                failure_code=payment.failure_code if payment else "",
                category=rule.category,
                code_known=rule.known,
                declined_payment_method_id=(payment.payment_method_id if payment else "") or card,
                failed_at=failed_at,
                opened_at=now,
                owner=_owner_for(order),
                language=language_for(country=order.billing_country),
                timezone=zone_for(phone=phone, country=order.billing_country),
            )
            DunningCaseEvent.objects.create(
                case=case,
                from_status="",
                to_status=_S.OPEN,
                outcome=DunningCaseEvent.Outcome.APPLIED,
                cause=f"opened:{cause}",
                detail={
                    "payment": payment.pk if payment else None,
                    "amount": owed,
                    "category": rule.category,
                    "code": rule.code,
                    "policy": policy.pk,
                },
            )
            case = case_plan_first(case=case, now=now)
    except IntegrityError:
        return DunningCase.objects.get(order_id=order_id, cause=cause)
    return case


def dunning_case_recover(
    *,
    case_id: int,
    payment: Payment | None,
    channel: str,
    amount: int,
    cause: str,
    actor: Any = None,
    link_id: int | None = None,
    now: datetime | None = None,
) -> DunningCase:
    """Close the case as recovered, with the amount and the channel; every pending step is
    canceled (the case leaves the scheduler) and its links stop working. A renewal's
    subscription renews again."""
    now = now or timezone.now()
    with transaction.atomic():
        case, outcome = dunning_case_transition(
            case_id=case_id,
            to_status=_S.RECOVERED,
            cause=cause,
            actor=actor,
            detail={"payment": payment.pk if payment else None, "channel": channel},
            fields={
                "amount_recovered": amount,
                "recovered_channel": channel,
                "recovered_at": now,
                "paused_at": None,
            },
        )
        if outcome == DunningCaseEvent.Outcome.APPLIED and link_id:
            PaymentLink.objects.filter(pk=link_id, used_at__isnull=True).update(
                used_at=now, paid_by=payment
            )
        if case.status == _S.RECOVERED and case.subscription_id:
            if payment is not None:
                # The renewal order must be accounted as paid before its subscription renews
                # (checkout's own task for the same news may not have run yet; it is idempotent).
                order_payment_record(payment_id=payment.pk)
            subscription_past_due_settle(
                subscription_id=case.subscription_id, order_id=case.order_id
            )
    return case


def dunning_case_cancel(*, case_id: int, cause: str, actor: Any = None, detail=None):
    return dunning_case_transition(
        case_id=case_id, to_status=_S.CANCELED, cause=cause, actor=actor, detail=detail
    )[0]


def dunning_case_settle_from_order(
    *, case: DunningCase, cause: str, now: datetime, actor: Any = None
) -> bool:
    """Close the case if its order says so: recovered when nothing is owed any more, canceled
    when the order was refunded or canceled. True when the case is (now) closed."""
    order = Order.objects.get(pk=case.order_id)
    if order.status in (Order.Status.CANCELED, Order.Status.REFUNDED):
        dunning_case_cancel(case_id=case.pk, cause=f"order_{order.status}", actor=actor)
        return True
    if case_amount_owed(order=order, cause=case.cause) > 0:
        return False
    payment = order_latest_paid(order=order)
    dunning_case_recover(
        case_id=case.pk,
        payment=payment,
        channel=payment_channel(payment) if payment else DunningCase.Channel.OTHER,
        amount=(payment.amount_received or payment.amount) if payment else case.amount,
        cause=cause,
        actor=actor,
        link_id=_link_of(payment),
        now=now,
    )
    return True


def _link_of(payment: Payment | None) -> int | None:
    link = (payment.metadata or {}).get("payment_link") if payment else None
    return int(link) if link and str(link).isdigit() else None
