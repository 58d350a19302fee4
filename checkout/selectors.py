"""checkout's reads: orders' holds, subscriptions due, why access is suspended, tax rates,
payment CSAT per week.

What the customer portal shows is in checkout/portal/selectors.py.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from checkout.models import (
    Entitlement,
    EntitlementEvent,
    Offer,
    Order,
    PaymentCsat,
    Subscription,
    TaxRate,
)
from config.transitions import Outcome
from payments.models import Payment


def order_hold(order: Order, *, authorized_only: bool = False) -> Payment | None:
    """The order's latest card hold (a failed one never counts): the one staff act on."""
    holds = order.payments.filter(capture_method=Payment.CaptureMethod.MANUAL).exclude(
        status=Payment.Status.FAILED
    )
    if authorized_only:
        holds = holds.filter(status=Payment.Status.AUTHORIZED)
    return holds.order_by("-created_at", "-pk").first()


def entitlement_suspension_cause(entitlement: Entitlement) -> str:
    """Why a suspended entitlement was suspended: the cause of its last move to suspended
    ("" when it is not suspended)."""
    if entitlement.status != Entitlement.Status.SUSPENDED:
        return ""
    last = (
        EntitlementEvent.objects.filter(
            entitlement=entitlement, to_status=entitlement.status, outcome=Outcome.APPLIED
        )
        .order_by("-created_at", "-pk")
        .values_list("cause", flat=True)
        .first()
    )
    return last or ""


def tax_rate_for(*, offer: Offer, country: str) -> TaxRate | None:
    """The offer's own rate for the country, else the global one, else none."""
    country = (country or "").upper()
    rates = TaxRate.objects.filter(Q(offer=offer) | Q(offer__isnull=True), country=country)
    return rates.order_by(F("offer").asc(nulls_last=True)).first()


def subscriptions_due(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        Subscription.objects.filter(status=Subscription.Status.ACTIVE, next_charge_at__lte=now)
        .order_by("next_charge_at")
        .values_list("pk", flat=True)[:limit]
    )


def order_entitlement_active(*, order: Order) -> Entitlement | None:
    """The access this order grants now, if any."""
    return Entitlement.objects.filter(order=order, status=Entitlement.Status.ACTIVE).first()


def csat_by_week(*, since: datetime, until: datetime) -> list[dict]:
    """Payment CSAT per week (weeks start on Monday, in the current time zone) for answers with
    since <= answered_at < until, oldest week first. One SQL aggregation:

    [{"week": date, "count": int, "mean": float | None, "distribution": {1: n, …, 5: n}}]

    The mean is over that week's answers (each answer counts once, whatever its score); weeks
    without answers are left out.
    """
    scores = range(1, 6)
    rows = (
        PaymentCsat.objects.filter(answered_at__gte=since, answered_at__lt=until)
        .annotate(week=TruncWeek("answered_at"))
        .values("week")
        .annotate(
            count=Count("id"),
            mean=Avg("score"),
            **{f"s{n}": Count("id", filter=Q(score=n)) for n in scores},
        )
        .order_by("week")
    )
    result = []
    for row in rows:
        week = row["week"]
        result.append(
            {
                "week": week.date() if isinstance(week, datetime) else date.fromisoformat(week),
                "count": row["count"],
                "mean": round(float(row["mean"]), 2) if row["mean"] is not None else None,
                "distribution": {n: row[f"s{n}"] for n in scores},
            }
        )
    return result
