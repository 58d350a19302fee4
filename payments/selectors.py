"""Reads that carry a rule (STYLE.md: selectors)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from payments.models import PAID_STATUSES, Discrepancy, Payment, Refund, WebhookEvent

RECONCILE_STATUSES = (
    Payment.Status.PROCESSING,
    Payment.Status.REQUIRES_ACTION,
    Payment.Status.UNKNOWN,
)


def payments_needing_reconciliation(
    *, stuck_before: datetime, checked_before: datetime
) -> QuerySet[Payment]:
    """Payments stuck in a waiting state since `stuck_before`, not asked about recently."""
    return (
        Payment.objects.filter(status__in=RECONCILE_STATUSES, updated_at__lte=stuck_before)
        .filter(Q(last_reconciled_at__isnull=True) | Q(last_reconciled_at__lte=checked_before))
        .order_by("updated_at", "id")
    )


def payments_paid_to_recheck(
    *, paid_since: datetime, checked_before: datetime
) -> QuerySet[Payment]:
    """Payments that succeeded since `paid_since`, not compared with Stripe since
    `checked_before`: the ones whose refunds or disputes may have changed at Stripe."""
    return (
        Payment.objects.filter(
            status__in=PAID_STATUSES,
            succeeded_at__gte=paid_since,
            stripe_payment_intent_id__isnull=False,
        )
        .filter(Q(last_reconciled_at__isnull=True) | Q(last_reconciled_at__lte=checked_before))
        .order_by("succeeded_at", "id")
    )


def webhook_events_dead() -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.DEAD).order_by("-received_at")


def payment_refunds_total(*, payment: Payment, trust_payment_figure: bool = True) -> int:
    """Refunded or being refunded, as far as we know: our Refund rows and, unless told not to,
    the figure Stripe last gave on the payment."""
    ours = (
        Refund.objects.filter(
            payment=payment, status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return max(ours, payment.amount_refunded) if trust_payment_figure else ours


def payment_refundable_amount(*, payment: Payment) -> int:
    if payment.status not in (Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED):
        return 0
    received = payment.amount_received or payment.amount
    return max(received - payment_refunds_total(payment=payment), 0)


def discrepancies_open() -> QuerySet[Discrepancy]:
    return Discrepancy.objects.filter(status=Discrepancy.Status.OPEN)


def payment_holds_lapsing(*, within: timedelta, now: datetime | None = None) -> QuerySet[Payment]:
    """Card holds (authorised, not captured) that Stripe will let lapse within `within`: an
    authorisation lasts PAYMENT_HOLD_LIFETIME_DAYS (about 7 days for most cards) from its
    creation, after which Stripe cancels it by itself."""
    now = now or timezone.now()
    lifetime = timedelta(days=settings.PAYMENT_HOLD_LIFETIME_DAYS)
    return Payment.objects.filter(
        capture_method=Payment.CaptureMethod.MANUAL,
        status=Payment.Status.AUTHORIZED,
        created_at__lte=now + within - lifetime,
    )
