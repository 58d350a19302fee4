"""The finance dashboard's figures, each computed by one SQL aggregation.

Every selector takes the period as [since, until) and, where money or payments are involved, ONE
currency: amounts are never added across currencies. Currency codes are compared without regard
to case (orders keep "EUR", payments keep Stripe's "eur"). Each figure's definition, with its
denominator, is the selector's docstring and is shown next to its chart (reporting/dashboard.py).

Most figures read the daily rollups (reporting/rollup.py) for the closed days that are built
and the source rows for the rest of the period; see rollup_cut() and docs/reporting.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import connection
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
from django.utils import timezone

from checkout.models import Notification, Offer, Order
from dunning.models import DunningCase
from dunning.selectors import recovery_by_category, recovery_by_channel
from leads.models import Lead, SlaState
from payments.models import PAID_STATUSES, Discrepancy, Dispute, Payment
from receipts.models import Receipt
from reporting.models import LeadDay, LeadFirstPayment, PaymentDay, ReceiptDay, RollupDay
from reporting.rollup import day_start

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


def _revenue_by_day(since: datetime, until: datetime, currency: str) -> list[DayAmount]:
    """revenue_by_day from the source rows."""
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


def _revenue_by_offer(since: datetime, until: datetime, currency: str) -> list[OfferAmount]:
    """revenue_by_offer from the source rows."""
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


def _lead_funnel(since: datetime, until: datetime) -> dict:
    """lead_funnel's counts from the source rows."""
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
    return figures


@dataclass(frozen=True)
class Spread:
    """A median and a 90th percentile of a duration, over `count` items."""

    count: int
    median: timedelta | None
    p90: timedelta | None


def _first_payments(since: datetime, until: datetime, currency: str):
    """Per lead created in the period, from the source rows: its first payment's time in this
    currency less its creation (`took`), for time_to_first_payment."""
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
    return per_lead


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


def _payment_rates(since: datetime, until: datetime, currency: str) -> dict:
    """payment_rates' counts from the source rows."""
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
    return {"recovered_by_dunning": recovered, **asked, **money}


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


def _receipt_delivery(since: datetime, until: datetime, currency: str) -> dict:
    """receipt_delivery's counts from the source rows."""
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
    return figures


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


def _lead_sla_adherence(since: datetime, until: datetime) -> dict:
    """lead_sla_adherence's counts from the source rows."""
    figures = Lead.objects.filter(created_at__gte=since, created_at__lt=until).aggregate(
        met=Count("pk", filter=Q(sla_state=SlaState.MET)),
        met_late=Count("pk", filter=Q(sla_state=SlaState.MET_LATE)),
        breached=Count("pk", filter=Q(sla_state=SlaState.BREACHED)),
        pending=Count("pk", filter=Q(sla_state=SlaState.PENDING)),
    )
    return figures


# The figures. Each reads the daily rollups (reporting/rollup.py) for the closed days of the
# period that are built, and the source rows for the rest (today, or the whole period when the
# rollup cannot serve it); the two parts are disjoint days and their counts add up. A caller
# showing several figures passes `cut` from rollup_cut() once.


def rollup_cut(*, since: datetime, until: datetime) -> datetime:
    """Where the rollup's part of [since, until) ends: [since, cut) is read from the rollups,
    [cut, until) from the source rows. The rollup's part is the run of built days from the
    period's first day (closed days only); `cut` is `since` when the period does not start at
    local midnight or its first day is not built."""
    if timezone.localtime(since).time() != time.min:
        return since
    first = timezone.localtime(since).date()
    end = timezone.localtime(min(until, day_start(timezone.localdate()))).date()
    if end <= first:
        return since
    built = RollupDay.objects.filter(day__gte=first, day__lt=end).aggregate(
        days=Count("day"), last=Max("day")
    )
    # Built days are a run from `first` when they number as many as the days to the last one.
    if not built["days"] or built["days"] != (built["last"] - first).days + 1:
        return since
    return day_start(built["last"] + timedelta(days=1))


def _days(since: datetime, cut: datetime) -> dict:
    return {"day__gte": timezone.localtime(since).date(), "day__lt": timezone.localtime(cut).date()}


def _sums(queryset, **fields: str) -> dict[str, int]:
    return queryset.aggregate(**{name: Coalesce(Sum(col), 0) for name, col in fields.items()})


def revenue_by_day(
    *, since: datetime, until: datetime, currency: str, cut: datetime | None = None
) -> list[DayAmount]:
    """Money received (minor units) on payments that succeeded that day, before refunds; days
    with nothing received are left out."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    days = []
    if cut > since:
        rows = (
            PaymentDay.objects.filter(currency=currency.upper(), **_days(since, cut))
            .values("day")
            .annotate(amount=Sum("received"), payments=Sum("paid"))
            .filter(payments__gt=0)
            .order_by("day")
        )
        days = [DayAmount(day_start(r["day"]), r["amount"], r["payments"]) for r in rows]
    return days + (_revenue_by_day(cut, until, currency) if cut < until else [])


def revenue_by_offer(
    *, since: datetime, until: datetime, currency: str, cut: datetime | None = None
) -> list[OfferAmount]:
    """Money received (minor units) in the period per offer of the paid order, largest first;
    a payment without an order counts under "No offer"."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    if cut == since:
        return _revenue_by_offer(since, until, currency)
    totals = {
        r["offer"]: (r["amount"], r["payments"])
        for r in PaymentDay.objects.filter(currency=currency.upper(), **_days(since, cut))
        .values("offer")
        .annotate(amount=Sum("received"), payments=Sum("paid"))
        .filter(payments__gt=0)
        .order_by()
    }
    # Per offer (a handful of aggregated rows), today's totals added to the closed days'.
    for row in _revenue_by_offer(cut, until, currency) if cut < until else []:
        amount, payments = totals.get(row.offer, (0, 0))
        totals[row.offer] = (amount + row.amount, payments + row.payments)
    rows = [OfferAmount(name, amount, payments) for name, (amount, payments) in totals.items()]
    return sorted(rows, key=lambda r: (-r.amount, r.offer))


def lead_funnel(*, since: datetime, until: datetime, cut: datetime | None = None) -> Funnel:
    """Of the leads created in the period (the denominator of every step): how many are
    payment-ready now, how many started a checkout (have an order), how many paid (an order of
    theirs has money received, checkout's `amount_paid`). Each step counts leads that reached
    it, in any currency."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    steps = ("leads", "ready", "checkout_started", "paid")
    figures = dict.fromkeys(steps, 0)
    if cut > since:
        rolled = _sums(LeadDay.objects.filter(**_days(since, cut)), **{s: s for s in steps})
        figures = {s: figures[s] + rolled[s] for s in steps}
    if cut < until:
        fresh = _lead_funnel(cut, until)
        figures = {s: figures[s] + (fresh[s] or 0) for s in steps}
    return Funnel(**figures)


def time_to_first_payment(
    *, since: datetime, until: datetime, currency: str, cut: datetime | None = None
) -> Spread:
    """From a lead's creation to the first successful payment of one of its orders (in this
    currency), over the leads created in the period that have paid: median and p90."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    spread = {
        "median": Percentile("took", fraction=0.5, output_field=DurationField()),
        "p90": Percentile("took", fraction=0.9, output_field=DurationField()),
    }
    rolled = LeadFirstPayment.objects.filter(currency=currency.upper(), **_days(since, cut))
    if cut == since:
        per_lead = _first_payments(since, until, currency)
        return Spread(**per_lead.aggregate(count=Count("order__lead_id"), **spread))
    if cut == until:
        return Spread(**rolled.aggregate(count=Count("lead_id"), **spread))
    # Both parts (a lead is created on one day, so in one part only): the spread over their
    # union, in one statement built from the two querysets' own SQL.
    rolled_sql, rolled_params = rolled.values_list("lead_id", "took").query.sql_with_params()
    fresh_sql, fresh_params = _first_payments(cut, until, currency).query.sql_with_params()
    union = f"(({rolled_sql}) UNION ALL ({fresh_sql})) AS t(lead_id, took)"
    sql = (
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY took), "  # noqa: S608
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY took) FROM {union}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*rolled_params, *fresh_params))
        count, median, p90 = cursor.fetchone()
    return Spread(count=count, median=median, p90=p90)


def payment_rates(
    *, since: datetime, until: datetime, currency: str, cut: datetime | None = None
) -> PaymentRates:
    """Success: of the payments asked for in the period (every payment but dunning's automatic
    retries, once it succeeded or failed), the share paid at once, and the share paid at once
    or recovered later by its dunning case. Refund and chargeback rates: of the payments that
    succeeded in the period, the share with any refund, and the share with any dispute."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    columns = {
        "attempts": "attempts",
        "paid_first_time": "paid_first_time",
        "recovered_by_dunning": "recovered",
        "paid": "paid",
        "refunded": "refunded",
        "disputed": "disputed",
    }
    figures = dict.fromkeys(columns, 0)
    if cut > since:
        figures = _sums(
            PaymentDay.objects.filter(currency=currency.upper(), **_days(since, cut)), **columns
        )
    if cut < until:
        fresh = _payment_rates(cut, until, currency)
        figures = {k: figures[k] + (fresh[k] or 0) for k in columns}
    return PaymentRates(**figures)


def receipt_delivery(
    *, since: datetime, until: datetime, currency: str, cut: datetime | None = None
) -> Delivery:
    """Of the receipts issued in the period in this currency: the share whose email was sent
    and has not bounced. `failed` counts those whose email failed or bounced; the rest are
    still on their way."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    columns = ("issued", "delivered", "failed")
    figures = dict.fromkeys(columns, 0)
    if cut > since:
        figures = _sums(
            ReceiptDay.objects.filter(currency=currency.upper(), **_days(since, cut)),
            **{c: c for c in columns},
        )
    if cut < until:
        fresh = _receipt_delivery(cut, until, currency)
        figures = {c: figures[c] + (fresh[c] or 0) for c in columns}
    return Delivery(**figures)


def lead_sla_adherence(
    *, since: datetime, until: datetime, cut: datetime | None = None
) -> SlaAdherence:
    """Of the leads created in the period whose first-response SLA is decided (contacted, or
    breached), the share contacted in time. Leads still waiting within their SLA are counted
    apart and left out of the denominator."""
    cut = rollup_cut(since=since, until=until) if cut is None else cut
    columns = {
        "met": "sla_met",
        "met_late": "sla_met_late",
        "breached": "sla_breached",
        "pending": "sla_pending",
    }
    figures = dict.fromkeys(columns, 0)
    if cut > since:
        figures = _sums(LeadDay.objects.filter(**_days(since, cut)), **columns)
    if cut < until:
        fresh = _lead_sla_adherence(cut, until)
        figures = {k: figures[k] + (fresh[k] or 0) for k in columns}
    return SlaAdherence(**figures)
