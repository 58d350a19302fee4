"""Reacting to the news payments and checkout give, and finding the news that was lost.

`dunning_payment_news` is the receivers' one task: money that arrived closes what it covers, a
failure sets a trigger (a checkout failure waits out the grace period; a declined renewal opens
its case at the next tick). The tick fires due triggers (`dunning_triggers_fire`) and looks for
work no news announced (`dunning_discover`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from checkout.models import Offer, Order, Subscription
from dunning.models import ACTIVE_STATUSES, DunningCase, DunningTrigger
from dunning.selectors import case_amount_owed
from dunning.services.attempts import dunning_attempt_settle_for_payment
from dunning.services.cases import (
    dunning_case_cancel,
    dunning_case_open,
    dunning_case_settle_from_order,
)
from dunning.services.policies import dunning_policy_for
from dunning.services.reminders import card_expiry_reminders_send, deposit_reminder_send
from payments.models import PAID_STATUSES, Payment

_S = DunningCase.Status
_T = DunningTrigger.Kind


_CAUSE_FOR_TRIGGER = {
    _T.CHECKOUT_FAILED: DunningCase.Cause.CHECKOUT,
    _T.RENEWAL_FAILED: DunningCase.Cause.RENEWAL,
    _T.DEPOSIT_OVERDUE: DunningCase.Cause.DEPOSIT,
}


# Cases that money arriving late may still close as recovered.
_RECOVERABLE = ACTIVE_STATUSES | {_S.EXHAUSTED}


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
