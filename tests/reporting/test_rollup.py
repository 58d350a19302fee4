"""The daily rollups (reporting/rollup.py) against the source rows they are rebuilt from: every
figure the dashboard reads from them equals the same figure computed from the source rows
(`cut=since` makes a selector read only the source rows), and the hand-worked figures of
test_selectors.py hold on the rollup path too."""

from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads.models import SlaState
from reporting import selectors
from reporting.models import LeadDay, LeadFirstPayment, PaymentDay, ReceiptDay, RollupDay
from reporting.rollup import day_start, rollup_rebuild
from reporting.tasks import rollup_rebuild_all_task, rollup_rebuild_recent_task
from tests.checkout.factories import OrderFactory
from tests.reporting.factories import (
    DEC,
    NOV,
    lead_make,
    november_history,
    payment_make,
    receipt_make,
)

pytestmark = pytest.mark.django_db

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


def figures(since, until, *, cut=None) -> dict:
    """Every rollup-backed figure of the dashboard, in EUR and JPY."""
    kw = {"since": since, "until": until, "cut": cut}
    out = {
        "funnel": selectors.lead_funnel(**kw),
        "sla": selectors.lead_sla_adherence(**kw),
    }
    for currency in ("EUR", "JPY"):
        for name in (
            "revenue_by_day",
            "revenue_by_offer",
            "time_to_first_payment",
            "payment_rates",
            "receipt_delivery",
        ):
            out[f"{name} {currency}"] = getattr(selectors, name)(currency=currency, **kw)
    return out


@pytest.fixture
def history():
    return november_history()


def test_the_rollup_equals_the_figures_from_the_source_rows(history):
    from_source = figures(NOV, DEC)
    assert selectors.rollup_cut(since=NOV, until=DEC) == NOV  # nothing built: source rows

    assert rollup_rebuild(first_day=NOV_1, last_day=NOV_30) == 30

    assert selectors.rollup_cut(since=NOV, until=DEC) == DEC  # every day from the rollup
    assert figures(NOV, DEC) == from_source
    # The hand-worked figures (test_selectors.py), now read from the rollup.
    eur = selectors.revenue_by_day(since=NOV, until=DEC, currency="EUR")
    assert [(d.day.date().isoformat(), d.amount, d.payments) for d in eur] == [
        ("2026-11-02", 10_000, 1),
        ("2026-11-05", 5_000, 1),
        ("2026-11-06", 10_000, 1),
    ]
    rates = selectors.payment_rates(since=NOV, until=DEC, currency="EUR")
    assert (rates.attempts, rates.paid_first_time, rates.recovered_by_dunning) == (4, 2, 1)
    assert (rates.paid, rates.refunded, rates.disputed) == (3, 1, 1)
    spread = selectors.time_to_first_payment(since=NOV, until=DEC, currency="EUR")
    assert (spread.count, spread.median, spread.p90) == (
        3,
        timedelta(hours=48),
        timedelta(hours=50, minutes=24),
    )
    assert selectors.lead_funnel(since=NOV, until=DEC) == selectors.Funnel(
        leads=4, ready=2, checkout_started=3, paid=3
    )
    # Amounts stay per currency: JPY's payment is only in JPY's rows.
    assert set(PaymentDay.objects.values_list("currency", flat=True)) == {"EUR", "JPY"}
    assert selectors.revenue_by_offer(since=NOV, until=DEC, currency="JPY") == [
        selectors.OfferAmount("Course J", 5_000, 1)
    ]


def test_a_rebuild_twice_gives_the_same_rows(history):
    def rows():
        return [
            sorted(model.objects.values_list(*fields))
            for model, fields in (
                (PaymentDay, ("day", "currency", "offer", "received", "paid", "attempts")),
                (LeadDay, ("day", "leads", "ready", "paid", "sla_met")),
                (ReceiptDay, ("day", "currency", "issued", "delivered", "failed")),
                (LeadFirstPayment, ("lead_id", "currency", "day", "took")),
                (RollupDay, ("day",)),
            )
        ]

    rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
    first = rows()
    rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
    assert rows() == first
    assert len(first[4]) == 30 and first[3]  # days marked built; first payments stored


def test_a_change_to_a_closed_day_shows_after_the_next_rebuild(history):
    rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
    p5 = history.payments["P5"]
    type(p5).objects.filter(pk=p5.pk).update(amount_refunded=1_000)  # a late refund

    # Until the rollup is rebuilt, the closed day shows what it held when built.
    assert selectors.payment_rates(since=NOV, until=DEC, currency="EUR").refunded == 1
    rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
    assert selectors.payment_rates(since=NOV, until=DEC, currency="EUR").refunded == 2
    assert figures(NOV, DEC) == figures(NOV, DEC, cut=NOV)


def test_closed_days_from_the_rollup_and_today_from_the_source_rows_add_up(history):
    # Today: a lead who pays in EUR within the hour, and another receipt.
    now = timezone.now()
    today = day_start(timezone.localdate())
    lead = lead_make("today@example.com", created=max(today, now - timedelta(hours=2)),
                     ready=True, sla=SlaState.MET)  # fmt: skip
    order = OrderFactory(offer=history.orders["O1"].offer, lead=lead, amount_paid=10_000)
    paid = payment_make(order, status="succeeded", created=now, succeeded=now, amount=10_000)
    receipt_make(paid, issued=now)
    since, until = NOV, today + timedelta(days=1)
    from_source = figures(since, until, cut=since)

    rollup_rebuild(first_day=NOV_1, last_day=timezone.localdate())  # closed days only
    assert not RollupDay.objects.filter(day=timezone.localdate()).exists()
    assert selectors.rollup_cut(since=since, until=until) == today
    assert figures(since, until) == from_source
    assert selectors.time_to_first_payment(since=since, until=until, currency="EUR").count == 4
    assert selectors.lead_funnel(since=since, until=until).paid == 4


def test_the_rollup_serves_only_the_run_of_built_days_from_the_start(history):
    rollup_rebuild(first_day=NOV_1, last_day=date(2026, 11, 10))
    assert selectors.rollup_cut(since=NOV, until=DEC) == day_start(date(2026, 11, 11))
    assert figures(NOV, DEC) == figures(NOV, DEC, cut=NOV)
    # A period whose first day is not built, or that does not start at midnight: source rows.
    later = day_start(date(2026, 11, 12))
    assert selectors.rollup_cut(since=later, until=DEC) == later
    odd = NOV + timedelta(hours=3)
    assert selectors.rollup_cut(since=odd, until=DEC) == odd
    assert figures(odd, DEC) == figures(odd, DEC, cut=odd)


def test_a_day_with_nothing_in_it_is_built_as_zero():
    assert rollup_rebuild(first_day=NOV_1, last_day=NOV_30) == 30
    assert selectors.rollup_cut(since=NOV, until=DEC) == DEC
    assert selectors.revenue_by_day(since=NOV, until=DEC, currency="EUR") == []
    assert selectors.lead_funnel(since=NOV, until=DEC) == selectors.Funnel(0, 0, 0, 0)
    spread = selectors.time_to_first_payment(since=NOV, until=DEC, currency="EUR")
    assert (spread.count, spread.median, spread.p90) == (0, None, None)


def test_bad_ranges_are_refused_and_change_nothing(history):
    with pytest.raises(ValueError):
        rollup_rebuild(first_day=NOV_30, last_day=NOV_1)
    with pytest.raises(CommandError):
        call_command("rollup_rebuild", "--since", "2026-13-01")
    with pytest.raises(CommandError):
        call_command("rollup_rebuild", "--since", "2026-11-30", "--until", "2026-11-01")
    assert not RollupDay.objects.exists()
    # Today and later are never built.
    today = timezone.localdate()
    assert rollup_rebuild(first_day=today, last_day=today + timedelta(days=3)) == 0
    assert not RollupDay.objects.exists()


def test_the_command_and_the_beat_tasks_rebuild_from_the_source_rows(history, settings):
    from_source = figures(NOV, DEC)
    call_command("rollup_rebuild", "--since", "2026-11-01", "--until", "2026-11-30")
    assert RollupDay.objects.count() == 30
    assert figures(NOV, DEC) == from_source

    yesterday = timezone.localdate() - timedelta(days=1)
    settings.REPORTING_ROLLUP_RECENT_DAYS = 3
    assert rollup_rebuild_recent_task() == 3
    assert RollupDay.objects.filter(day__gt=yesterday - timedelta(days=3)).count() == 3
    # The nightly run: every closed day from the first rolled-up source row's (lead L5,
    # created 2026-10-20; discrepancies are not rolled up).
    built = rollup_rebuild_all_task()
    assert built == (yesterday - date(2026, 10, 20)).days + 1
    assert RollupDay.objects.order_by("day").first().day == date(2026, 10, 20)
    assert figures(NOV, DEC) == from_source
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"reporting.rollup_rebuild_recent", "reporting.rollup_rebuild_all"} <= beat


def test_the_dashboard_shows_the_same_panels_from_the_rollup(
    history, django_assert_max_num_queries
):
    from reporting.dashboard import dashboard_panels

    for currency in ("EUR", "JPY"):
        from_source = dashboard_panels(since=NOV, until=DEC, currency=currency)
        rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
        with django_assert_max_num_queries(19):
            assert dashboard_panels(since=NOV, until=DEC, currency=currency) == from_source
        RollupDay.objects.all().delete()


def test_payments_and_checkout_signals_rebuild_the_built_days_a_change_counts_in(
    history, celery_eager, django_capture_on_commit_callbacks
):
    from checkout import signals as checkout_signals
    from checkout.models import Notification
    from payments import signals
    from receipts.models import Receipt
    from reporting.receivers import on_notification_delivered, on_payment_changed

    rollup_rebuild(first_day=NOV_1, last_day=NOV_30)
    # A late refund of P5 (paid 11-06), and L4 (created 11-05, no order then) paying today.
    p5 = history.payments["P5"]
    type(p5).objects.filter(pk=p5.pk).update(amount_refunded=1_000)
    order = OrderFactory(offer=history.orders["O1"].offer, lead=history.leads["L4"],
                         amount_paid=10_000)  # fmt: skip
    now = timezone.now()
    late = payment_make(order, status="succeeded", created=now, succeeded=now, amount=10_000)
    # P1's receipt email (issued 11-02) bounces.
    p1_email = Receipt.objects.get(payment=history.payments["P1"]).delivered_by_id
    Notification.objects.filter(pk=p1_email).update(status=Notification.Status.BOUNCED)
    assert selectors.lead_funnel(since=NOV, until=DEC).checkout_started == 3  # as built

    with django_capture_on_commit_callbacks(execute=True):
        on_payment_changed(sender=None, payment_id=p5.pk)
        on_payment_changed(sender=None, payment_id=late.pk)
        on_notification_delivered(sender=None, notification_id=p1_email)

    assert selectors.rollup_cut(since=NOV, until=DEC) == DEC  # still read from the rollup
    assert figures(NOV, DEC) == figures(NOV, DEC, cut=NOV)
    assert selectors.payment_rates(since=NOV, until=DEC, currency="EUR").refunded == 2
    assert selectors.lead_funnel(since=NOV, until=DEC) == selectors.Funnel(4, 2, 4, 4)
    assert selectors.receipt_delivery(since=NOV, until=DEC, currency="EUR").delivered == 0
    # Days not built stay unbuilt (the beat's runs build them); today is never built.
    assert RollupDay.objects.count() == 30
    # The receivers are connected to every payment signal and to checkout's delivery one.
    for name in ("succeeded", "failed", "refunded", "disputed", "canceled"):
        signal = getattr(signals, f"payment_{name}")
        assert signal.disconnect(dispatch_uid=f"reporting.payment_{name}")
        signal.connect(on_payment_changed, dispatch_uid=f"reporting.payment_{name}")
    delivered = checkout_signals.notification_delivered
    assert delivered.disconnect(dispatch_uid="reporting.notification_delivered")
    delivered.connect(on_notification_delivered, dispatch_uid="reporting.notification_delivered")
