"""The daily rollups behind the finance dashboard, rebuilt from the source rows.

`rollup_rebuild(first_day=…, last_day=…)` deletes the rollup rows of those local days (the
portal's time zone) and inserts them again from payments, orders, leads, receipts and dunning
cases, in one transaction: running it twice gives the same rows. Only closed days (before
today) are built; each built day gets a RollupDay row, which tells the selectors that the day's
figures can be read from the rollup (reporting/selectors.py). Each figure here is one SQL
aggregation grouped by day with the same filters as the selector that reads it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, Upper
from django.utils import timezone

from checkout.models import Notification, Order
from dunning.models import DunningCase
from leads.models import Lead, SlaState
from payments.models import PAID_STATUSES, Dispute, Payment
from receipts.models import Receipt
from reporting.models import (
    LeadDay,
    LeadFirstPayment,
    PaymentDay,
    ReceiptDay,
    RollupDay,
)

PAID = list(PAID_STATUSES)
NO_OFFER = "No offer"
# The advisory lock key of the rebuild ("rollup" in ASCII).
ROLLUP_LOCK = 0x726F6C6C7570


def day_start(day: date) -> datetime:
    """Local midnight at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _payment_days(since: datetime, until: datetime) -> list[PaymentDay]:
    rows: dict[tuple, dict] = defaultdict(dict)

    def add(queryset) -> None:
        for r in queryset:
            key = (r.pop("day"), r.pop("code"), r.pop("offer_name"))
            rows[key].update(r)

    def keyed(queryset, day_field: str, payment: str = ""):
        """Grouped by the local day of `day_field`, the currency and the offer's name."""
        return queryset.order_by().values(
            day=TruncDate(f"{payment}{day_field}"),
            code=Upper(f"{payment}currency"),
            offer_name=Coalesce(F(f"{payment}order__offer__name"), Value(NO_OFFER)),
        )

    paid = Payment.objects.filter(status__in=PAID, succeeded_at__gte=since, succeeded_at__lt=until)
    add(
        keyed(paid, "succeeded_at").annotate(
            received=Coalesce(Sum("amount_received"), 0),
            paid=Count("pk"),
            refunded=Count("pk", filter=Q(amount_refunded__gt=0)),
        ),
    )
    disputes = Dispute.objects.filter(
        payment__status__in=PAID,
        payment__succeeded_at__gte=since,
        payment__succeeded_at__lt=until,
    )
    add(
        keyed(disputes, "succeeded_at", "payment__").annotate(
            disputed=Count("payment_id", distinct=True)
        ),
    )
    ended = [*PAID, Payment.Status.FAILED, Payment.Status.CANCELED]
    asked = Payment.objects.filter(
        created_at__gte=since, created_at__lt=until, status__in=ended
    ).exclude(attempt_kind=Payment.AttemptKind.RETRY)
    add(
        keyed(asked, "created_at").annotate(
            attempts=Count("pk"), paid_first_time=Count("pk", filter=Q(status__in=PAID))
        ),
    )
    recovered = DunningCase.objects.filter(
        status=DunningCase.Status.RECOVERED,
        failed_payment__created_at__gte=since,
        failed_payment__created_at__lt=until,
        failed_payment__status__in=[Payment.Status.FAILED, Payment.Status.CANCELED],
    ).exclude(failed_payment__attempt_kind=Payment.AttemptKind.RETRY)
    add(
        keyed(recovered, "created_at", "failed_payment__").annotate(
            recovered=Count("failed_payment", distinct=True)
        ),
    )
    return [
        PaymentDay(day=day, currency=code, offer=offer, **figures)
        for (day, code, offer), figures in rows.items()
    ]


def _lead_days(since: datetime, until: datetime) -> list[LeadDay]:
    orders = Order.objects.filter(lead=OuterRef("pk"))
    rows = (
        Lead.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(has_order=Exists(orders), has_paid=Exists(orders.filter(amount_paid__gt=0)))
        .order_by()
        .values(day=TruncDate("created_at"))
        .annotate(
            leads=Count("pk"),
            ready=Count("pk", filter=Q(is_ready=True)),
            checkout_started=Count("pk", filter=Q(has_order=True)),
            paid=Count("pk", filter=Q(has_paid=True)),
            sla_met=Count("pk", filter=Q(sla_state=SlaState.MET)),
            sla_met_late=Count("pk", filter=Q(sla_state=SlaState.MET_LATE)),
            sla_breached=Count("pk", filter=Q(sla_state=SlaState.BREACHED)),
            sla_pending=Count("pk", filter=Q(sla_state=SlaState.PENDING)),
        )
    )
    return [LeadDay(**r) for r in rows]


def _receipt_days(since: datetime, until: datetime) -> list[ReceiptDay]:
    rows = (
        Receipt.objects.filter(issued_at__gte=since, issued_at__lt=until)
        .order_by()
        .values(day=TruncDate("issued_at"), code=Upper("currency"))
        .annotate(
            issued=Count("pk"),
            delivered=Count("pk", filter=Q(delivered_by__status=Notification.Status.SENT)),
            failed=Count(
                "pk",
                filter=Q(
                    delivered_by__status__in=[
                        Notification.Status.FAILED,
                        Notification.Status.BOUNCED,
                    ]
                ),
            ),
        )
    )
    return [ReceiptDay(currency=r.pop("code"), **r) for r in rows]


def _first_payments(since: datetime, until: datetime) -> list[LeadFirstPayment]:
    rows = (
        Payment.objects.filter(
            status__in=PAID,
            succeeded_at__isnull=False,
            order__lead__created_at__gte=since,
            order__lead__created_at__lt=until,
        )
        .order_by()
        .values(
            "order__lead_id",
            code=Upper("currency"),
            lead_day=TruncDate("order__lead__created_at"),
        )
        .annotate(
            took=ExpressionWrapper(
                Min("succeeded_at") - F("order__lead__created_at"), output_field=DurationField()
            )
        )
    )
    return [
        LeadFirstPayment(
            lead_id=r["order__lead_id"], currency=r["code"], day=r["lead_day"], took=r["took"]
        )
        for r in rows.iterator(chunk_size=5000)
    ]


def rollup_rebuild(*, first_day: date, last_day: date) -> int:
    """Rebuild the rollups of the closed days first_day..last_day (both included; days from
    today on are left out). Returns how many days were built."""
    if first_day > last_day:
        raise ValueError("first_day must not be after last_day")
    last_day = min(last_day, timezone.localdate() - timedelta(days=1))
    if first_day > last_day:
        return 0
    since, until = day_start(first_day), day_start(last_day + timedelta(days=1))
    days = {"day__gte": first_day, "day__lte": last_day}
    built_at = timezone.now()
    with transaction.atomic():
        # One rebuild at a time (the beat's recent-days run and the nightly full one may
        # overlap): a transaction-scoped Postgres advisory lock, released at commit.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        for model in (PaymentDay, LeadDay, ReceiptDay, LeadFirstPayment, RollupDay):
            model.objects.filter(**days).delete()
        PaymentDay.objects.bulk_create(_payment_days(since, until), batch_size=2000)
        LeadDay.objects.bulk_create(_lead_days(since, until), batch_size=2000)
        ReceiptDay.objects.bulk_create(_receipt_days(since, until), batch_size=2000)
        LeadFirstPayment.objects.bulk_create(_first_payments(since, until), batch_size=5000)
        count = (last_day - first_day).days + 1
        RollupDay.objects.bulk_create(
            RollupDay(day=first_day + timedelta(days=n), built_at=built_at) for n in range(count)
        )
    return count


def rollup_first_day() -> date | None:
    """The earliest local day any rolled-up source row falls on (None with no rows)."""
    firsts = [
        Payment.objects.aggregate(first=Min("created_at"))["first"],
        Lead.objects.aggregate(first=Min("created_at"))["first"],
        Receipt.objects.aggregate(first=Min("issued_at"))["first"],
    ]
    firsts = [timezone.localtime(f).date() for f in firsts if f is not None]
    return min(firsts) if firsts else None


def rollup_rebuild_recent(*, days: int) -> int:
    """Rebuild the last `days` closed days (the beat's frequent run)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    yesterday = timezone.localdate() - timedelta(days=1)
    return rollup_rebuild(first_day=yesterday - timedelta(days=days - 1), last_day=yesterday)


def rollup_rebuild_all() -> int:
    """Rebuild every closed day from the first source row's (the nightly run): it picks up
    changes to old rows, such as a refund or a dispute of a payment from months ago."""
    first = rollup_first_day()
    if first is None:
        return 0
    return rollup_rebuild(first_day=first, last_day=timezone.localdate())


def _days_of(queryset, field: str) -> set[date]:
    """The local days of `field` over a few rows (one payment's, one notification's)."""
    days = queryset.order_by().annotate(rolled_day=TruncDate(field))
    return set(days.values_list("rolled_day", flat=True)) - {None}


def rollup_days_of_payment(*, payment_id: int) -> set[date]:
    """The local days whose rollup rows a change to this payment can move: the days it was
    created and succeeded, its lead's creation day (funnel, time to first payment), and the
    creation days of the failed payments whose dunning cases its order has (recovered)."""
    payment = Payment.objects.filter(pk=payment_id)
    days = (
        _days_of(payment, "created_at")
        | _days_of(payment, "succeeded_at")
        | _days_of(payment, "order__lead__created_at")
    )
    cases = DunningCase.objects.filter(order__payments__pk=payment_id, failed_payment__isnull=False)
    return days | _days_of(cases, "failed_payment__created_at")


def rollup_days_of_notification(*, notification_id: int) -> set[date]:
    """The issue days of the receipts that this email delivered (receipt delivery)."""
    return _days_of(Receipt.objects.filter(delivered_by_id=notification_id), "issued_at")


def rollup_rebuild_days(*, days: set[date]) -> int:
    """Rebuild those of `days` that are built already (keeping built days current after a
    change to their source rows; unbuilt days wait for the beat's runs). Returns how many."""
    built = sorted(RollupDay.objects.filter(day__in=days).values_list("day", flat=True))
    for day in built:
        rollup_rebuild(first_day=day, last_day=day)
    return len(built)
