"""Opening and closing cases, and reacting to the news payments and checkout give.

A case opens for (DESIGN.md §1):
- a checkout payment that failed and was not followed by a success within the grace period
  (DUNNING_CHECKOUT_GRACE_MINUTES): a trigger waits out the grace;
- a declined renewal (the subscription is past due): at once;
- a deposit's balance that is overdue (with a reminder a few days before it falls due).

It closes as recovered when the order no longer owes what the case is about, whatever brought
the money (a retry, the payment link, the portal, a transfer, a webhook), and as canceled when
the order is refunded or canceled.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from checkout.models import Offer, Order, Subscription
from dunning.declines import decline_classify
from dunning.models import (
    ACTIVE_STATUSES,
    DunningCase,
    DunningCaseEvent,
    DunningTrigger,
)
from dunning.schedule import language_for, zone_for
from dunning.selectors import case_amount_owed, order_latest_paid, payment_channel
from dunning.services.policies import dunning_policy_for
from dunning.services.transitions import dunning_case_transition
from payments.models import PAID_STATUSES, Payment

logger = logging.getLogger(__name__)

_S = DunningCase.Status
_T = DunningTrigger.Kind
_CAUSE_FOR_TRIGGER = {
    _T.CHECKOUT_FAILED: DunningCase.Cause.CHECKOUT,
    _T.RENEWAL_FAILED: DunningCase.Cause.RENEWAL,
    _T.DEPOSIT_OVERDUE: DunningCase.Cause.DEPOSIT,
}
# Cases that money arriving late may still close as recovered.
_RECOVERABLE = ACTIVE_STATUSES | {_S.EXHAUSTED}


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
    from dunning.services.scheduler import case_plan_first

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
    from checkout.services.accounting import order_payment_record
    from checkout.services.subscriptions import subscription_past_due_settle
    from dunning.models import PaymentLink

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


def dunning_trigger_set(
    *, order_id: int, kind: str, due_at: datetime, payment_id: int | None = None
) -> DunningTrigger:
    """Remember to look at an order again at `due_at` (once per order and kind)."""
    try:
        with transaction.atomic():
            trigger, _ = DunningTrigger.objects.get_or_create(
                order_id=order_id,
                kind=kind,
                defaults={"due_at": due_at, "payment_id": payment_id},
            )
    except IntegrityError:
        trigger = DunningTrigger.objects.get(order_id=order_id, kind=kind)
    return trigger


def _deposit_triggers(order: Order) -> None:
    if order.offer.billing_type != Offer.BillingType.DEPOSIT or order.balance_due_at is None:
        return
    if case_amount_owed(order=order, cause=DunningCase.Cause.DEPOSIT) <= 0:
        return
    policy = dunning_policy_for(offer=order.offer)
    if policy is None:
        return
    dunning_trigger_set(order_id=order.pk, kind=_T.DEPOSIT_OVERDUE, due_at=order.balance_due_at)
    if policy.deposit_reminder_days:
        dunning_trigger_set(
            order_id=order.pk,
            kind=_T.DEPOSIT_DUE_SOON,
            due_at=order.balance_due_at - timedelta(days=policy.deposit_reminder_days),
        )


def dunning_payment_news(*, payment_id: int, now: datetime | None = None) -> None:
    """What a payment's news means for dunning (the receivers' one task).

    - Money arrived: cases of its order that are now covered close as recovered; a deposit
      paid with a balance left gets its reminder and due-date triggers.
    - A failure: a retry of ours is settled; a checkout failure waits out the grace period; a
      declined renewal opens its case at the next tick.
    - A refund or a canceled order cancels the order's cases.
    """
    from dunning.services.scheduler import dunning_attempt_settle_for_payment

    now = now or timezone.now()
    payment = Payment.objects.select_related("order__offer").filter(pk=payment_id).first()
    if payment is None or payment.order_id is None:
        return
    order = payment.order
    dunning_attempt_settle_for_payment(payment=payment, now=now)
    if payment.status in PAID_STATUSES or payment.status == Payment.Status.AUTHORIZED:
        for case in DunningCase.objects.filter(order=order, status__in=_RECOVERABLE):
            dunning_case_settle_from_order(case=case, cause=f"payment_{payment.status}", now=now)
        DunningTrigger.objects.filter(
            order=order,
            status=DunningTrigger.Status.PENDING,
            kind__in=[_T.CHECKOUT_FAILED, _T.RENEWAL_FAILED],
        ).update(status=DunningTrigger.Status.DISMISSED, acted_at=now)
        _deposit_triggers(order)
    if payment.status == Payment.Status.REFUNDED or order.status in (
        Order.Status.CANCELED,
        Order.Status.REFUNDED,
    ):
        for case in DunningCase.objects.filter(order=order, status__in=ACTIVE_STATUSES):
            dunning_case_cancel(case_id=case.pk, cause=f"payment_{payment.status}")
    if payment.status == Payment.Status.FAILED and not (payment.metadata or {}).get("dunning_case"):
        # The news comes within seconds of the failure: now is when it failed.
        _failure_trigger(payment, failed_at=now)


def _failure_trigger(payment: Payment, *, failed_at: datetime) -> None:
    if dunning_policy_for(offer=payment.order.offer) is None:
        return
    if payment.attempt_kind == Payment.AttemptKind.CHECKOUT:
        grace = timedelta(minutes=settings.DUNNING_CHECKOUT_GRACE_MINUTES)
        dunning_trigger_set(
            order_id=payment.order_id,
            kind=_T.CHECKOUT_FAILED,
            due_at=failed_at + grace,
            payment_id=payment.pk,
        )
    elif payment.attempt_kind == Payment.AttemptKind.RENEWAL:
        dunning_trigger_set(
            order_id=payment.order_id,
            kind=_T.RENEWAL_FAILED,
            due_at=failed_at,
            payment_id=payment.pk,
        )


def dunning_triggers_fire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Act on the triggers that are due (claimed with skip_locked, so schedulers share them)."""
    from dunning.services.scheduler import deposit_reminder_send

    now = now or timezone.now()
    with transaction.atomic():
        triggers = list(
            DunningTrigger.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=DunningTrigger.Status.PENDING, due_at__lte=now)
            .select_related("order__offer", "payment")
            .order_by("due_at")[:limit]
        )
        for trigger in triggers:
            acted = False
            if trigger.kind == _T.DEPOSIT_DUE_SOON:
                acted = deposit_reminder_send(order=trigger.order, now=now)
            else:
                payment = trigger.payment
                # The trigger's due time is the failure's plus the grace (checkout), or the
                # failure's (a renewal), or the balance's due date (a deposit).
                failed_at = trigger.due_at
                if trigger.kind == _T.CHECKOUT_FAILED:
                    failed_at -= timedelta(minutes=settings.DUNNING_CHECKOUT_GRACE_MINUTES)
                case = dunning_case_open(
                    order_id=trigger.order_id,
                    cause=_CAUSE_FOR_TRIGGER[trigger.kind],
                    failed_at=failed_at,
                    payment_id=payment.pk if payment else None,
                    now=now,
                )
                acted = case is not None
            trigger.status = (
                DunningTrigger.Status.FIRED if acted else DunningTrigger.Status.DISMISSED
            )
            trigger.acted_at = now
            trigger.save(update_fields=["status", "acted_at"])
    return len(triggers)


def dunning_discover(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Find work no news announced, or whose news was lost (the broker was down when it was
    sent): renewals past due because the bank wants the buyer (no failure is signalled for
    that), recent failures without a trigger, deposit balances falling due."""
    from dunning.services.scheduler import card_expiry_reminders_send

    now = now or timezone.now()
    found = {"renewals": 0, "failures": 0, "deposits": 0, "card_expiry": 0}
    past_due = (
        Subscription.objects.filter(status=Subscription.Status.PAST_DUE)
        .exclude(
            Exists(
                DunningCase.objects.filter(
                    subscription=OuterRef("pk"), failed_at__gte=OuterRef("next_charge_at")
                )
            )
        )
        .order_by("pk")[:limit]
    )
    for subscription in past_due:
        renewal = (
            Payment.objects.filter(
                attempt_kind=Payment.AttemptKind.RENEWAL,
                metadata__subscription_id=str(subscription.pk),
            )
            .order_by("-created_at")
            .first()
        )
        if renewal is None or renewal.order_id is None:
            continue
        if dunning_case_open(
            order_id=renewal.order_id,
            cause=DunningCase.Cause.RENEWAL,
            failed_at=renewal.updated_at,
            payment_id=renewal.pk,
            now=now,
        ):
            found["renewals"] += 1

    for attempt_kind, kind in (
        (Payment.AttemptKind.CHECKOUT, _T.CHECKOUT_FAILED),
        (Payment.AttemptKind.RENEWAL, _T.RENEWAL_FAILED),
    ):
        unannounced = (
            Payment.objects.filter(
                status=Payment.Status.FAILED,
                attempt_kind=attempt_kind,
                created_at__gte=now - timedelta(days=2),
                order__isnull=False,
            )
            .exclude(Exists(DunningTrigger.objects.filter(order=OuterRef("order"), kind=kind)))
            .select_related("order__offer")
            .order_by("pk")[:limit]
        )
        for payment in unannounced:
            _failure_trigger(payment, failed_at=payment.updated_at)
            found["failures"] += 1

    deposits = (
        Order.objects.filter(
            offer__billing_type=Offer.BillingType.DEPOSIT,
            status=Order.Status.PARTIALLY_PAID,
            balance_due_at__isnull=False,
        )
        .exclude(
            Exists(DunningTrigger.objects.filter(order=OuterRef("pk"), kind=_T.DEPOSIT_OVERDUE))
        )
        .select_related("offer")
        .order_by("pk")[:limit]
    )
    for order in deposits:
        _deposit_triggers(order)
        found["deposits"] += 1
    found["card_expiry"] = card_expiry_reminders_send(now=now, limit=limit)
    return found
