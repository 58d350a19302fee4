"""checkout's items on the staff home (config.staff_home): card holds about to lapse."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from config.staff_home import WorkItem
from payments.selectors import payment_holds_lapsing


def staff_home_items(*, user) -> list[WorkItem]:
    if not user.has_perm("checkout.view_order"):
        return []
    within = timedelta(hours=settings.STAFF_HOME_HOLD_WARNING_HOURS)
    return [
        WorkItem(
            key="holds_lapsing",
            title="Card holds about to lapse",
            count=payment_holds_lapsing(within=within).values("order_id").distinct().count(),
            url=reverse("admin:checkout_order_changelist") + "?hold=lapsing",
            explanation="Orders whose card reservation Stripe cancels within "
            f"{settings.STAFF_HOME_HOLD_WARNING_HOURS} hours: capture or release it.",
        )
    ]
