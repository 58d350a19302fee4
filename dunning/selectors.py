"""Reads with a rule in them: what a case still owes, the card cap, the triage queue and the
recovery metrics reporting charts (fixed denominators, stated on each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncWeek

from checkout.models import Order
from checkout.services.accounting import order_totals
from dunning.models import ACTIVE_STATUSES, DunningAttempt, DunningCase
from payments.models import PAID_STATUSES, Payment

_Case = DunningCase


def case_target(*, order: Order, cause: str) -> int:
    """What the order must have secured for the case to be over: what was due at checkout for
    a checkout failure, the whole total for a renewal or a deposit's balance."""
    return order.amount_due_now if cause == _Case.Cause.CHECKOUT else order.total


def case_amount_owed(*, order: Order, cause: str) -> int:
    """What the order still owes for this cause, from its payments as they are now (the order's
    cached `balance` lags behind a payment whose news has not been accounted yet)."""
    if order.status in (Order.Status.CANCELED, Order.Status.REFUNDED):
        return 0
    totals = order_totals(payments=list(Payment.objects.filter(order=order)))
    return max(case_target(order=order, cause=cause) - totals.secured, 0)


def dunning_cases_due(*, now: datetime) -> QuerySet[DunningCase]:
    """Cases whose next step is due and that no worker holds (or whose worker's lease ran
    out), the soonest first: what the scheduler claims (its SQL, in
    dunning.services.scheduler._claim_batch, says the same; keep them in step)."""
    return (
        DunningCase.objects.filter(next_action_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .order_by("next_action_at", "pk")
    )


def card_retries_recent(*, payment_method_id: str, now: datetime) -> int:
    """Retries of this card across all cases in the cap's window (DUNNING_CARD_RETRY_CAP_DAYS)."""
    since = now - timedelta(days=settings.DUNNING_CARD_RETRY_CAP_DAYS)
    return (
        DunningAttempt.objects.filter(payment_method_id=payment_method_id, created_at__gte=since)
        .exclude(status=DunningAttempt.Status.CANCELED)
        .count()
    )


def payment_channel(payment: Payment) -> str:
    """Which way the money came: our retry or payment link (tagged in the payment's metadata),
    a bank transfer staff recorded, the portal (a balance payment), the checkout page."""
    tagged = (payment.metadata or {}).get("dunning_channel", "")
    if tagged in _Case.Channel.values:
        return tagged
    return {
        Payment.AttemptKind.BALANCE: _Case.Channel.PORTAL,
        Payment.AttemptKind.CHECKOUT: _Case.Channel.CHECKOUT,
        Payment.AttemptKind.RETRY: _Case.Channel.RETRY,
        Payment.AttemptKind.RENEWAL: _Case.Channel.RETRY,
    }.get(payment.attempt_kind, _Case.Channel.OTHER)


def order_latest_paid(*, order: Order) -> Payment | None:
    return (
        Payment.objects.filter(order=order, status__in=PAID_STATUSES)
        .order_by("-succeeded_at", "-pk")
        .first()
    )


def dunning_cases_open() -> QuerySet[DunningCase]:
    """The cases still being worked (what reporting counts as open), biggest at risk first."""
    return DunningCase.objects.filter(status__in=ACTIVE_STATUSES).order_by("-amount", "pk")


# Recovery metrics. Every rate's denominator is fixed: the cases that OPENED in the period (or
# cohort week), whatever happened to them since, so a rate never changes because cases are
# still open or were closed in another period. Each selector takes the period as [since, until).


class _PercentileCont(Aggregate):
    """Postgres' percentile_cont (the ORM has no median)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass(frozen=True)
class CohortRecovery:
    week: datetime
    opened: int
    recovered: int

    @property
    def rate(self) -> float:
        return self.recovered / self.opened if self.opened else 0.0


def _opened_in(since: datetime, until: datetime) -> QuerySet[DunningCase]:
    return DunningCase.objects.filter(opened_at__gte=since, opened_at__lt=until)


def recovery_rate_by_cohort_week(*, since: datetime, until: datetime) -> list[CohortRecovery]:
    """Per week the cases opened in (Monday 00:00 UTC): cases recovered / cases opened."""
    rows = (
        _opened_in(since, until)
        .annotate(week=TruncWeek("opened_at"))
        .values("week")
        .annotate(
            opened=Count("pk"), recovered=Count("pk", filter=Q(status=_Case.Status.RECOVERED))
        )
        .order_by("week")
    )
    return [CohortRecovery(r["week"], r["opened"], r["recovered"]) for r in rows]


def recovered_revenue_by_currency(*, since: datetime, until: datetime) -> dict[str, int]:
    """Money recovered (minor units, per currency) by cases opened in the period."""
    rows = (
        _opened_in(since, until)
        .filter(status=_Case.Status.RECOVERED)
        .values("currency")
        .annotate(total=Sum("amount_recovered"))
        .order_by("currency")
    )
    return {r["currency"].upper(): r["total"] or 0 for r in rows}


def median_time_to_recovery(*, since: datetime, until: datetime) -> timedelta | None:
    """The median from the failure to the money, over cases opened in the period and recovered
    (None when none was)."""
    median = (
        _opened_in(since, until)
        .filter(status=_Case.Status.RECOVERED, recovered_at__isnull=False)
        .annotate(
            took=ExpressionWrapper(F("recovered_at") - F("failed_at"), output_field=DurationField())
        )
        .aggregate(median=_PercentileCont("took"))["median"]
    )
    return median


@dataclass(frozen=True)
class RecoveryShare:
    key: str
    opened: int
    recovered: int

    @property
    def rate(self) -> float:
        return self.recovered / self.opened if self.opened else 0.0


def recovery_by_category(*, since: datetime, until: datetime) -> list[RecoveryShare]:
    """Per decline category (as the case opened): recovered / opened in that category."""
    rows = (
        _opened_in(since, until)
        .values("category")
        .annotate(
            opened=Count("pk"), recovered=Count("pk", filter=Q(status=_Case.Status.RECOVERED))
        )
        .order_by("category")
    )
    return [RecoveryShare(r["category"], r["opened"], r["recovered"]) for r in rows]


def recovery_by_channel(*, since: datetime, until: datetime) -> list[RecoveryShare]:
    """Per channel (retry, link, portal, checkout, transfer): cases recovered through it / ALL
    cases opened in the period. The shares add up to the overall recovery rate."""
    opened = _opened_in(since, until).count()
    rows = (
        _opened_in(since, until)
        .filter(status=_Case.Status.RECOVERED)
        .values("recovered_channel")
        .annotate(recovered=Count("pk"))
        .order_by("recovered_channel")
    )
    found = {r["recovered_channel"]: r["recovered"] for r in rows}
    return [
        RecoveryShare(channel, opened, found.get(channel, 0)) for channel in _Case.Channel.values
    ]


def dunning_cases_at_risk_by_currency(*, owner) -> list[dict]:
    """`owner`'s cases still being worked, per currency: how many, and how much is still owed
    (amount less what was recovered), summed in SQL and never across currencies."""
    return list(
        DunningCase.objects.filter(owner=owner, status__in=ACTIVE_STATUSES)
        .values("currency")
        .annotate(cases=Count("pk"), at_risk=Sum(F("amount") - F("amount_recovered")))
        .order_by("currency")
    )
