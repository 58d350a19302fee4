"""receipts' items on the staff home (config.staff_home): receipts whose delivery failed."""

from __future__ import annotations

from django.urls import reverse

from config.staff_home import WorkItem
from receipts.selectors import receipts_delivery_failed


def staff_home_items(*, user) -> list[WorkItem]:
    if not user.has_perm("receipts.view_receipt"):
        return []
    return [
        WorkItem(
            key="receipts_delivery_failed",
            title="Receipts that failed delivery",
            count=receipts_delivery_failed().count(),
            url=reverse("admin:receipts_receipt_changelist") + "?delivery=failed",
            explanation="Receipts whose email bounced or could not be sent.",
        )
    ]
