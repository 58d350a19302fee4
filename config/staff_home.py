"""The staff home (the admin's index): what needs doing, for the signed-in user, in their role.

Each item is a count from one app's selector and a link to the change list filtered to the same
rows. An item shows only to someone who may view those rows. Amounts at risk are given per
currency, never summed across currencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from config.money import money_format
from dunning.selectors import dunning_cases_at_risk_by_currency
from leads.selectors import leads_sla_at_risk
from payments.selectors import discrepancies_open, payment_holds_lapsing, webhook_events_dead
from receipts.selectors import receipts_delivery_failed


@dataclass(frozen=True)
class WorkItem:
    key: str
    title: str
    count: int
    url: str
    explanation: str
    amounts: list[str] = field(default_factory=list)

    @property
    def needs_action(self) -> bool:
        return self.count > 0


def staff_home_items(*, user) -> list[WorkItem]:
    items: list[WorkItem] = []
    if user.has_perm("leads.view_lead"):
        within = timedelta(minutes=settings.STAFF_HOME_SLA_WARNING_MINUTES)
        items.append(
            WorkItem(
                key="my_leads_sla",
                title="My leads breaching or near their SLA",
                count=leads_sla_at_risk(owner=user, within=within).count(),
                url=reverse("admin:leads_lead_changelist") + "?work=my_sla",
                explanation=(
                    "Leads you own that still wait for a first response, past due or due "
                    f"within {settings.STAFF_HOME_SLA_WARNING_MINUTES} minutes."
                ),
            )
        )
    if user.has_perm("dunning.view_dunningcase"):
        per_currency = dunning_cases_at_risk_by_currency(owner=user)
        items.append(
            WorkItem(
                key="my_dunning_cases",
                title="My dunning cases needing action",
                count=sum(row["cases"] for row in per_currency),
                url=reverse("admin:dunning_dunningcase_changelist") + "?queue=open&owner=me",
                explanation="Failed payments assigned to you that are still being collected; "
                "the amount still owed, per currency.",
                amounts=[money_format(row["at_risk"], row["currency"]) for row in per_currency],
            )
        )
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
    if user.has_perm("receipts.view_receipt"):
        items.append(
            WorkItem(
                key="receipts_delivery_failed",
                title="Receipts that failed delivery",
                count=receipts_delivery_failed().count(),
                url=reverse("admin:receipts_receipt_changelist") + "?delivery=failed",
                explanation="Receipts whose email bounced or could not be sent.",
            )
        )
    if user.has_perm("checkout.view_order"):
        within = timedelta(hours=settings.STAFF_HOME_HOLD_WARNING_HOURS)
        items.append(
            WorkItem(
                key="holds_lapsing",
                title="Card holds about to lapse",
                count=payment_holds_lapsing(within=within).values("order_id").distinct().count(),
                url=reverse("admin:checkout_order_changelist") + "?hold=lapsing",
                explanation="Orders whose card reservation Stripe cancels within "
                f"{settings.STAFF_HOME_HOLD_WARNING_HOURS} hours: capture or release it.",
            )
        )
    return items
