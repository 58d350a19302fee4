"""The finance dashboard's figures, each computed by one SQL aggregation.

Every selector takes the period as [since, until) and, where money or payments are involved, ONE
currency: amounts are never added across currencies. Currency codes are compared without regard
to case (orders keep "EUR", payments keep Stripe's "eur"). Each figure's definition, with its
denominator, is the selector's docstring and is shown next to its chart (reporting/dashboard.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDay, Upper

from checkout.models import Notification, Offer, Order
from dunning.models import DunningCase
from dunning.selectors import recovery_by_category, recovery_by_channel
from leads.models import Lead, SlaState
from payments.models import PAID_STATUSES, Discrepancy, Dispute, Payment
from receipts.models import Receipt

PAID = list(PAID_STATUSES)


class Percentile(Aggregate):
    """Postgres' percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): the ORM has no
    median or p90 of its own."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, output_field=None, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(
            expression,
            fraction=float(fraction),
            output_field=output_field or FloatField(),
            **extra,
        )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def currencies_offered() -> list[str]:
    """The currencies the dashboard can show: those of the offers (a small table)."""
    return sorted(
        set(Offer.objects.annotate(code=Upper("currency")).values_list("code", flat=True))
    )


def _paid_in(since: datetime, until: datetime, currency: str):
    return Payment.objects.filter(
        status__in=PAID,
        succeeded_at__gte=since,
        succeeded_at__lt=until,
        currency__iexact=currency,
    )


@dataclass(frozen=True)
class DayAmount:
    day: datetime
    amount: int
    payments: int


def revenue_by_day(*, since: datetime, until: datetime, currency: str) -> list[DayAmount]:
    """Money received (minor units) on payments that succeeded that day, before refunds; days
    with nothing received are left out."""
    rows = (
        _paid_in(since, until, currency)
        .annotate(day=TruncDay("succeeded_at"))
        .values("day")
        .annotate(amount=Sum("amount_received"), payments=Count("pk"))
        .order_by("day")
    )
    return [DayAmount(r["day"], r["amount"] or 0, r["payments"]) for r in rows]


@dataclass(frozen=True)
class OfferAmount:
    offer: str
    amount: int
    payments: int


def revenue_by_offer(*, since: datetime, until: datetime, currency: str) -> list[OfferAmount]:
    """Money received (minor units) in the period per offer of the paid order, largest first;
    a payment without an order counts under "No offer"."""
    rows = (
        _paid_in(since, until, currency)
        .values(name=Coalesce(F("order__offer__name"), Value("No offer")))
        .annotate(amount=Sum("amount_received"), payments=Count("pk"))
        .order_by("-amount", "name")
    )
    return [OfferAmount(r["name"], r["amount"] or 0, r["payments"]) for r in rows]


@dataclass(frozen=True)
class Funnel:
    leads: int
    ready: int
    checkout_started: int
    paid: int


def lead_funnel(*, since: datetime, until: datetime) -> Funnel:
    """Of the leads created in the period (the denominator of every step): how many are
    payment-ready now, how many started a checkout (have an order), how many paid (an order of
    theirs has money received, checkout's `amount_paid`). Each step counts leads that reached
    it, in any currency."""
    in_period = {"created_at__gte": since, "created_at__lt": until}
    figures = Lead.objects.filter(**in_period).aggregate(
        leads=Count("pk"), ready=Count("pk", filter=Q(is_ready=True))
    )
    # One row per lead from its orders (order_by() drops the default ordering, which would
    # otherwise split the groups), then counted: a lead counts once however many orders it has.
    per_lead = (
        Order.objects.filter(**{f"lead__{k}": v for k, v in in_period.items()})
        .order_by()
        .values("lead_id")
        .annotate(received=Max("amount_paid"))
    )
    figures.update(
        per_lead.aggregate(
            checkout_started=Count("lead_id"), paid=Count("lead_id", filter=Q(received__gt=0))
        )
    )
    return Funnel(**figures)


@dataclass(frozen=True)
class Spread:
    """A median and a 90th percentile of a duration, over `count` items."""

    count: int
    median: timedelta | None
    p90: timedelta | None


def time_to_first_payment(*, since: datetime, until: datetime, currency: str) -> Spread:
    """From a lead's creation to the first successful payment of one of its orders (in this
    currency), over the leads created in the period that have paid: median and p90."""
    # Per lead (grouped), its first payment's time less its creation; then the spread over
    # those leads (Django wraps the grouped query in a subquery for the outer aggregate).
    per_lead = (
        Payment.objects.filter(
            status__in=PAID,
            succeeded_at__isnull=False,
            currency__iexact=currency,
            order__lead__created_at__gte=since,
            order__lead__created_at__lt=until,
        )
        .values("order__lead_id")
        .annotate(
            took=ExpressionWrapper(
                Min("succeeded_at") - F("order__lead__created_at"), output_field=DurationField()
            )
        )
    )
    figures = per_lead.aggregate(
        count=Count("order__lead_id"),
        median=Percentile("took", fraction=0.5, output_field=DurationField()),
        p90=Percentile("took", fraction=0.9, output_field=DurationField()),
    )
    return Spread(**figures)


@dataclass(frozen=True)
class PaymentRates:
    """Payments (not dunning retries) created in the period and no longer pending."""

    attempts: int
    paid_first_time: int
    recovered_by_dunning: int
    paid: int
    refunded: int
    disputed: int

    @property
    def first_attempt_rate(self) -> float | None:
        return _ratio(self.paid_first_time, self.attempts)

    @property
    def after_retries_rate(self) -> float | None:
        return _ratio(self.paid_first_time + self.recovered_by_dunning, self.attempts)

    @property
    def refund_rate(self) -> float | None:
        return _ratio(self.refunded, self.paid)

    @property
    def chargeback_rate(self) -> float | None:
        return _ratio(self.disputed, self.paid)


def payment_rates(*, since: datetime, until: datetime, currency: str) -> PaymentRates:
    """Success: of the payments asked for in the period (every payment but dunning's automatic
    retries, once it succeeded or failed), the share paid at once, and the share paid at once
    or recovered later by its dunning case. Refund and chargeback rates: of the payments that
    succeeded in the period, the share with any refund, and the share with any dispute."""
    ended = [*PAID, Payment.Status.FAILED, Payment.Status.CANCELED]
    asked = (
        Payment.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            currency__iexact=currency,
            status__in=ended,
        )
        .exclude(attempt_kind=Payment.AttemptKind.RETRY)
        .aggregate(attempts=Count("pk"), paid_first_time=Count("pk", filter=Q(status__in=PAID)))
    )
    recovered = (
        DunningCase.objects.filter(
            status=DunningCase.Status.RECOVERED,
            failed_payment__created_at__gte=since,
            failed_payment__created_at__lt=until,
            failed_payment__currency__iexact=currency,
            failed_payment__status__in=[Payment.Status.FAILED, Payment.Status.CANCELED],
        )
        .exclude(failed_payment__attempt_kind=Payment.AttemptKind.RETRY)
        .order_by()
        .values("failed_payment")
        .distinct()
        .count()
    )
    money = _paid_in(since, until, currency).aggregate(
        paid=Count("pk"), refunded=Count("pk", filter=Q(amount_refunded__gt=0))
    )
    # From the disputes' side (few rows), each disputed payment once.
    money["disputed"] = (
        Dispute.objects.filter(
            payment__status__in=PAID,
            payment__succeeded_at__gte=since,
            payment__succeeded_at__lt=until,
            payment__currency__iexact=currency,
        )
        .order_by()
        .values("payment_id")
        .distinct()
        .count()
    )
    return PaymentRates(recovered_by_dunning=recovered, **asked, **money)


@dataclass(frozen=True)
class RecoveryRow:
    key: str
    opened: int
    recovered: int
    amount: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.recovered, self.opened)


def _recovered_amounts(since, until, currency, field: str) -> dict[str, int]:
    rows = (
        DunningCase.objects.filter(
            opened_at__gte=since,
            opened_at__lt=until,
            status=DunningCase.Status.RECOVERED,
            currency__iexact=currency,
        )
        .values(field)
        .annotate(total=Sum("amount_recovered"))
        .order_by(field)
    )
    return {r[field]: r["total"] or 0 for r in rows}


def recovery_by_decline_category(
    *, since: datetime, until: datetime, currency: str
) -> list[RecoveryRow]:
    """Per decline category: dunning cases recovered / cases opened in the period in that
    category (dunning's fixed denominator, cases in every currency), and the money recovered
    by those cases in this currency."""
    amounts = _recovered_amounts(since, until, currency, "category")
    return [
        RecoveryRow(share.key, share.opened, share.recovered, amounts.get(share.key, 0))
        for share in recovery_by_category(since=since, until=until)
    ]


def recovery_by_recovery_channel(
    *, since: datetime, until: datetime, currency: str
) -> list[RecoveryRow]:
    """Per channel: cases recovered through it / ALL cases opened in the period (so the shares
    add up to the overall recovery rate; cases in every currency), and the money recovered
    through it in this currency."""
    amounts = _recovered_amounts(since, until, currency, "recovered_channel")
    return [
        RecoveryRow(share.key, share.opened, share.recovered, amounts.get(share.key, 0))
        for share in recovery_by_channel(since=since, until=until)
    ]


@dataclass(frozen=True)
class Resolution:
    detected: int
    resolved: int
    median: timedelta | None
    p90: timedelta | None


def discrepancy_resolution(*, since: datetime, until: datetime) -> Resolution:
    """Of the discrepancies detected in the period (any currency: a discrepancy may be one
    between currencies): how many are resolved, and from detection to resolution the median
    and p90 over the resolved ones."""
    took = ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField())
    resolved = Q(status=Discrepancy.Status.RESOLVED, resolved_at__isnull=False)
    figures = (
        Discrepancy.objects.filter(detected_at__gte=since, detected_at__lt=until)
        .annotate(took=took)
        .aggregate(
            detected=Count("pk"),
            resolved=Count("pk", filter=resolved),
            median=Percentile("took", fraction=0.5, filter=resolved, output_field=DurationField()),
            p90=Percentile("took", fraction=0.9, filter=resolved, output_field=DurationField()),
        )
    )
    return Resolution(**figures)


@dataclass(frozen=True)
class Delivery:
    issued: int
    delivered: int
    failed: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.delivered, self.issued)


def receipt_delivery(*, since: datetime, until: datetime, currency: str) -> Delivery:
    """Of the receipts issued in the period in this currency: the share whose email was sent
    and has not bounced. `failed` counts those whose email failed or bounced; the rest are
    still on their way."""
    sent = Q(delivered_by__status=Notification.Status.SENT)
    gone_wrong = Q(
        delivered_by__status__in=[Notification.Status.FAILED, Notification.Status.BOUNCED]
    )
    figures = Receipt.objects.filter(
        issued_at__gte=since, issued_at__lt=until, currency__iexact=currency
    ).aggregate(
        issued=Count("pk"),
        delivered=Count("pk", filter=sent),
        failed=Count("pk", filter=gone_wrong),
    )
    return Delivery(**figures)


@dataclass(frozen=True)
class SlaAdherence:
    met: int
    met_late: int
    breached: int
    pending: int

    @property
    def decided(self) -> int:
        return self.met + self.met_late + self.breached

    @property
    def rate(self) -> float | None:
        return _ratio(self.met, self.decided)


def lead_sla_adherence(*, since: datetime, until: datetime) -> SlaAdherence:
    """Of the leads created in the period whose first-response SLA is decided (contacted, or
    breached), the share contacted in time. Leads still waiting within their SLA are counted
    apart and left out of the denominator."""
    figures = Lead.objects.filter(created_at__gte=since, created_at__lt=until).aggregate(
        met=Count("pk", filter=Q(sla_state=SlaState.MET)),
        met_late=Count("pk", filter=Q(sla_state=SlaState.MET_LATE)),
        breached=Count("pk", filter=Q(sla_state=SlaState.BREACHED)),
        pending=Count("pk", filter=Q(sla_state=SlaState.PENDING)),
    )
    return SlaAdherence(**figures)
