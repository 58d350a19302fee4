"""dunning's items on the staff home (config.staff_home): the user's cases to collect."""

from __future__ import annotations

from django.urls import reverse

from config.money import money_format
from config.staff_home import WorkItem
from dunning.selectors import dunning_cases_at_risk_by_currency


def staff_home_items(*, user) -> list[WorkItem]:
    if not user.has_perm("dunning.view_dunningcase"):
        return []
    per_currency = dunning_cases_at_risk_by_currency(owner=user)
    return [
        WorkItem(
            key="my_dunning_cases",
            title="My dunning cases needing action",
            count=sum(row["cases"] for row in per_currency),
            url=reverse("admin:dunning_dunningcase_changelist") + "?queue=open&owner=me",
            explanation="Failed payments assigned to you that are still being collected; "
            "the amount still owed, per currency.",
            amounts=[money_format(row["at_risk"], row["currency"]) for row in per_currency],
        )
    ]
