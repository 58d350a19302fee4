"""payments' items on the staff home (config.staff_home): discrepancies, dead webhook events."""

from __future__ import annotations

from django.urls import reverse

from config.staff_home import WorkItem
from payments.selectors import discrepancies_open, webhook_events_dead


def staff_home_items(*, user) -> list[WorkItem]:
    items: list[WorkItem] = []
    if user.has_perm("payments.view_discrepancy"):
        items.append(
            WorkItem(
                key="discrepancies_open",
                title="Open discrepancies",
                count=discrepancies_open().count(),
                url=reverse("admin:payments_discrepancy_changelist") + "?status__exact=open",
                explanation="Partial, over- and duplicate payments, and payments on canceled "
                "orders, not yet resolved.",
            )
        )
    if user.has_perm("payments.view_deadletterevent"):
        items.append(
            WorkItem(
                key="webhook_events_dead",
                title="Dead webhook events",
                count=webhook_events_dead().count(),
                url=reverse("admin:payments_deadletterevent_changelist"),
                explanation="Stripe events that failed every retry: replay them once the cause "
                "is fixed.",
            )
        )
    return items
