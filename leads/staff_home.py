"""leads' items on the staff home (config.staff_home): the user's leads near their SLA."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from config.staff_home import WorkItem
from leads.selectors import leads_sla_at_risk


def staff_home_items(*, user) -> list[WorkItem]:
    if not user.has_perm("leads.view_lead"):
        return []
    within = timedelta(minutes=settings.STAFF_HOME_SLA_WARNING_MINUTES)
    return [
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
    ]
