"""Checkout's non-trivial reads."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncWeek


def csat_by_week(*, since: datetime, until: datetime) -> list[dict]:
    """Payment CSAT per week (weeks start on Monday, in the current time zone) for answers with
    since <= answered_at < until, oldest week first. One SQL aggregation:

    [{"week": date, "count": int, "mean": float | None, "distribution": {1: n, …, 5: n}}]

    The mean is over that week's answers (each answer counts once, whatever its score); weeks
    without answers are left out.
    """
    from checkout.models import PaymentCsat

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
