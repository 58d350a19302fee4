"""Reporting's tasks: the daily rollups' rebuilds (reporting/rollup.py). Each deletes and
inserts the days it covers in one transaction, so running one twice changes nothing."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="reporting.rollup_rebuild_recent", soft_time_limit=240, time_limit=300)
def rollup_rebuild_recent_task() -> int:
    """Every few minutes: the last REPORTING_ROLLUP_RECENT_DAYS closed days."""
    from reporting.rollup import rollup_rebuild_recent

    return rollup_rebuild_recent(days=settings.REPORTING_ROLLUP_RECENT_DAYS)


@shared_task(name="reporting.rollup_rebuild_all", soft_time_limit=1800, time_limit=1900)
def rollup_rebuild_all_task() -> int:
    """Nightly: every closed day, from the first source row's."""
    from reporting.rollup import rollup_rebuild_all

    return rollup_rebuild_all()


@shared_task(name="reporting.rollup_payment_refresh")
def rollup_payment_refresh_task(payment_id: int) -> int:
    """A payment's money or status changed: rebuild the built days it counts in."""
    from reporting.rollup import rollup_days_of_payment, rollup_rebuild_days

    return rollup_rebuild_days(days=rollup_days_of_payment(payment_id=payment_id))


@shared_task(name="reporting.rollup_notification_refresh")
def rollup_notification_refresh_task(notification_id: int) -> int:
    """An email was delivered or bounced: rebuild the built days of the receipts it carried."""
    from reporting.rollup import rollup_days_of_notification, rollup_rebuild_days

    return rollup_rebuild_days(days=rollup_days_of_notification(notification_id=notification_id))
