"""Recovery metrics for reporting, with fixed denominators: the cases that opened in the
period, whatever happened to them since."""

from datetime import UTC, datetime, timedelta

import pytest

from dunning.selectors import (
    median_time_to_recovery,
    recovered_revenue_by_currency,
    recovery_by_category,
    recovery_by_channel,
    recovery_rate_by_cohort_week,
)
from dunning.services import dunning_case_cancel, dunning_case_open, dunning_case_recover
from tests.checkout.factories import OfferFactory
from tests.dunning.factories import checkout_declined_by_webhook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def _case(client, *, opened, decline="insufficient_funds", currency="EUR", price=10_000):
    offer = OfferFactory(currency=currency, price_amount=price)
    order, payment = checkout_declined_by_webhook(client, decline_code=decline, offer=offer)
    return dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=opened - timedelta(minutes=30),
        payment_id=payment.pk, now=opened,
    )  # fmt: skip


def _recover(case, *, after, channel, amount=None):
    dunning_case_recover(
        case_id=case.pk, payment=None, channel=channel, amount=amount or case.amount,
        cause="test", now=case.opened_at + after,
    )  # fmt: skip


def test_recovery_metrics_have_fixed_denominators(client, localstripe):
    week1 = [_case(client, opened=MONDAY + timedelta(days=d)) for d in range(4)]
    hard = _case(client, opened=MONDAY + timedelta(days=1), decline="stolen_card")
    week2 = [
        _case(client, opened=MONDAY + timedelta(days=8)),
        _case(client, opened=MONDAY + timedelta(days=9), currency="GBP", price=5_000),
    ]
    _recover(week1[0], after=timedelta(days=1), channel="retry")
    _recover(week1[1], after=timedelta(days=3), channel="link")
    _recover(week1[2], after=timedelta(days=5), channel="link")
    dunning_case_cancel(case_id=week1[3].pk, cause="test")
    _recover(hard, after=timedelta(hours=12), channel="transfer")
    _recover(week2[1], after=timedelta(days=2), channel="portal")
    since, until = MONDAY, MONDAY + timedelta(days=14)

    cohorts = recovery_rate_by_cohort_week(since=since, until=until)
    assert [(c.week.date().isoformat(), c.opened, c.recovered) for c in cohorts] == [
        ("2026-11-02", 5, 4),
        ("2026-11-09", 2, 1),
    ]
    assert cohorts[0].rate == 0.8 and cohorts[1].rate == 0.5
    # A case closing later (or still open) never changes its cohort's denominator.
    _recover(week2[0], after=timedelta(days=30), channel="retry")
    assert recovery_rate_by_cohort_week(since=since, until=until)[1].opened == 2

    assert recovered_revenue_by_currency(since=since, until=until) == {
        "EUR": 50_000,
        "GBP": 5_000,
    }
    # Measured from the failure, half an hour before each case opened (the grace): 0.5, 1, 2,
    # 3, 5 and 30 days after opening, so the median is 2.5 days and 30 minutes.
    assert median_time_to_recovery(since=since, until=until) == timedelta(
        days=2, hours=12, minutes=30
    )
    assert median_time_to_recovery(since=until, until=until + timedelta(days=7)) is None

    by_category = {
        r.key: (r.opened, r.recovered) for r in recovery_by_category(since=since, until=until)
    }
    assert by_category == {"hard": (1, 1), "soft": (6, 5)}

    by_channel = {
        r.key: (r.opened, r.recovered) for r in recovery_by_channel(since=since, until=until)
    }
    assert by_channel == {
        "retry": (7, 2), "link": (7, 2), "portal": (7, 1), "checkout": (7, 0),
        "transfer": (7, 1), "other": (7, 0),
    }  # fmt: skip
    assert sum(r.recovered for r in recovery_by_channel(since=since, until=until)) == 6  # 6 of 7
