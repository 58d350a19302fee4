"""SLA escalation with time travel: every service takes `now`, so the test moves the clock."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from leads.business_hours import BusinessHours
from leads.models import LeadStatus, SlaEvent, SlaState
from leads.services import lead_first_contact_log, lead_sla_breaches_process
from leads.services.sla import lead_sla_event_notify
from leads.services.sla_clock import lead_sla_start
from leads.tasks import leads_outbox_sweep_task
from tests.leads.factories import RoutingRuleFactory, SalesOwnerFactory, capture_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(settings):
    settings.LEADS_SLA_TIME_ZONE = "Europe/London"
    settings.LEADS_SLA_BUSINESS_DAYS = [0, 1, 2, 3, 4]
    settings.LEADS_SLA_BUSINESS_HOURS = ("09:00", "17:30")
    settings.LEADS_SLA_FIRST_RESPONSE_MINUTES = 120
    settings.LEADS_SLA_LADDER = [("notify_owner", 0), ("notify_team_lead", 60), ("reassign", 240)]
    boss = SalesOwnerFactory().user
    first = SalesOwnerFactory(team_lead=boss)
    second = SalesOwnerFactory(team_lead=boss)
    RoutingRuleFactory(members=[first, second])
    return first, second, boss


def _at(lead, business_minutes_after_due):
    return BusinessHours.from_settings().add(lead.first_response_due_at, business_minutes_after_due)


def _notify_all():
    for event in SlaEvent.objects.filter(notified_at__isnull=True):
        lead_sla_event_notify(event_id=event.pk)


def test_the_due_time_counts_business_hours_from_arrival(team):
    lead = capture_lead()
    expected = BusinessHours.from_settings().add(lead.created_at, 120)
    assert lead.first_response_due_at == expected
    assert lead.sla_next_check_at == expected


def test_the_ladder_notifies_the_owner_then_the_team_lead_then_reassigns(team):
    first, second, boss = team
    lead = capture_lead()
    assert lead.owner == first.user
    second_minute = timedelta(minutes=1)

    assert lead_sla_breaches_process(now=lead.first_response_due_at - second_minute) == 0

    assert lead_sla_breaches_process(now=_at(lead, 0) + second_minute) == 1
    lead.refresh_from_db()
    assert (lead.sla_state, lead.sla_level) == (SlaState.BREACHED, 1)
    assert lead_sla_breaches_process(now=_at(lead, 0) + second_minute) == 0  # nothing new yet
    _notify_all()
    assert mail.outbox[-1].to == [first.user.email]
    assert "overdue" in mail.outbox[-1].subject

    assert lead_sla_breaches_process(now=_at(lead, 60) + second_minute) == 1
    _notify_all()
    assert mail.outbox[-1].to == [boss.email]

    reassigned_at = _at(lead, 240) + second_minute
    assert lead_sla_breaches_process(now=reassigned_at) == 1
    lead.refresh_from_db()
    assert lead.owner == second.user
    assert "SLA breach, reassigned" in lead.assignments.first().reason
    _notify_all()
    assert set(mail.outbox[-1].to) == {second.user.email, first.user.email}

    assert list(lead.sla_events.values_list("level", "action")) == [
        (1, "notify_owner"),
        (2, "notify_team_lead"),
        (3, "reassign"),
    ]
    # The new owner starts from the bottom of the ladder with a clock of their own.
    new_due = BusinessHours.from_settings().add(reassigned_at, 120)
    assert (lead.sla_state, lead.sla_level) == (SlaState.PENDING, 0)
    assert lead.first_response_due_at == new_due
    assert lead.sla_next_check_at == new_due


def test_logging_first_contact_stops_the_clock(team):
    first, _, _ = team
    lead = capture_lead()
    lead_sla_breaches_process(now=_at(lead, 1))
    lead_first_contact_log(lead=lead, actor=first.user, at=_at(lead, 30))

    assert lead_sla_breaches_process(now=_at(lead, 10_000)) == 0
    lead.refresh_from_db()
    assert lead.sla_state == SlaState.MET_LATE
    assert lead.status == LeadStatus.CONTACTED
    assert lead.first_contacted_by == first.user
    assert lead.sla_events.count() == 1


def test_contact_before_the_due_time_meets_the_sla(team):
    first, _, _ = team
    lead = capture_lead()
    lead_first_contact_log(lead=lead, actor=first.user, at=lead.first_response_due_at)
    lead_first_contact_log(lead=lead, actor=first.user)  # a second log changes nothing
    lead.refresh_from_db()
    assert lead.sla_state == SlaState.MET
    assert lead.first_contacted_at == lead.first_response_due_at


def test_a_sweeper_that_was_down_catches_up_one_step_per_run(team):
    lead = capture_lead()
    much_later = _at(lead, 1_000)
    assert lead_sla_breaches_process(now=much_later) == 1
    assert lead_sla_breaches_process(now=much_later) == 1
    assert lead_sla_breaches_process(now=much_later) == 1
    assert lead_sla_breaches_process(now=much_later) == 0


def test_lost_notifications_are_re_driven_by_the_outbox_sweep(team):
    lead = capture_lead()
    lead_sla_breaches_process(now=_at(lead, 1))
    event = lead.sla_events.get()
    assert event.notified_at is None
    # The enqueue after commit was lost (broker down): the row is all that is left.
    SlaEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert leads_outbox_sweep_task() == 1
    event.refresh_from_db()
    assert event.notified_at is not None
    assert leads_outbox_sweep_task() == 0


def test_the_ladder_is_configurable(team, settings):
    settings.LEADS_SLA_LADDER = [("notify_team_lead", 15)]
    _, _, boss = team
    lead = capture_lead()
    assert lead.sla_next_check_at == _at(lead, 15)
    assert lead_sla_breaches_process(now=_at(lead, 16)) == 1
    _notify_all()
    assert mail.outbox[-1].to == [boss.email]


def _reassigned_for_breach(lead):
    """Run the ladder to its reassign step; returns the moment of the reassignment."""
    for minutes in (0, 60, 240):
        assert lead_sla_breaches_process(now=_at(lead, minutes) + timedelta(minutes=1)) == 1
    _notify_all()
    lead.refresh_from_db()
    return lead.sla_events.get(action="reassign").created_at


def test_the_new_owner_is_reminded_at_their_own_due_time_not_at_once(team):
    first, second, boss = team
    lead = capture_lead()
    reassigned_at = _reassigned_for_breach(lead)
    assert lead.owner == second.user
    sent = len(mail.outbox)

    # Still breached under the first owner's clock, but the new owner has a fresh one.
    assert lead_sla_breaches_process(now=reassigned_at) == 0
    assert lead_sla_breaches_process(now=lead.first_response_due_at - timedelta(minutes=1)) == 0
    _notify_all()
    assert len(mail.outbox) == sent

    assert lead_sla_breaches_process(now=_at(lead, 0) + timedelta(minutes=1)) == 1
    lead.refresh_from_db()
    assert (lead.sla_state, lead.sla_level) == (SlaState.BREACHED, 1)
    _notify_all()
    assert mail.outbox[-1].to == [second.user.email]

    assert lead_sla_breaches_process(now=_at(lead, 60) + timedelta(minutes=1)) == 1
    _notify_all()
    assert mail.outbox[-1].to == [boss.email]

    # The second ladder ends in a reassignment too, back to the first owner, who starts again.
    second_reassign = _at(lead, 240) + timedelta(minutes=1)
    assert lead_sla_breaches_process(now=second_reassign) == 1
    lead.refresh_from_db()
    assert lead.owner == first.user
    assert lead.first_response_due_at == BusinessHours.from_settings().add(second_reassign, 120)

    # Every step of both ladders is kept, numbered through the lead's history.
    assert list(lead.sla_events.values_list("level", "action")) == [
        (1, "notify_owner"),
        (2, "notify_team_lead"),
        (3, "reassign"),
        (4, "notify_owner"),
        (5, "notify_team_lead"),
        (6, "reassign"),
    ]


def test_first_contact_after_a_reassignment_is_measured_against_the_new_due_time(team):
    _, second, _ = team
    lead = capture_lead()
    _reassigned_for_breach(lead)

    lead_first_contact_log(lead=lead, actor=second.user, at=lead.first_response_due_at)

    lead.refresh_from_db()
    assert lead.sla_state == SlaState.MET
    assert lead.sla_next_check_at is None
    assert lead_sla_breaches_process(now=_at(lead, 10_000)) == 0


def test_when_nobody_else_can_take_the_lead_the_ladder_just_ends(settings):
    settings.LEADS_SLA_LADDER = [("notify_owner", 0), ("notify_team_lead", 60), ("reassign", 240)]
    only = SalesOwnerFactory()
    RoutingRuleFactory(members=[only])
    lead = capture_lead()
    due = lead.first_response_due_at

    assert lead_sla_breaches_process(now=_at(lead, 1_000)) == 1
    assert lead_sla_breaches_process(now=_at(lead, 1_000)) == 1
    assert lead_sla_breaches_process(now=_at(lead, 1_000)) == 1

    lead.refresh_from_db()
    assert lead.owner == only.user
    assert (lead.sla_state, lead.sla_level) == (SlaState.BREACHED, 3)
    assert lead.first_response_due_at == due
    assert lead.sla_next_check_at is None
    assert "Nobody else was available" in lead.sla_events.get(level=3).detail
    assert lead_sla_breaches_process(now=_at(lead, 10_000)) == 0


def test_a_lead_arriving_the_evening_before_a_holiday_weekend_is_due_the_next_business_day(
    team, settings
):
    settings.LEADS_SLA_HOLIDAYS = ["2026-12-25"]  # Christmas Day 2026 is a Friday
    lead = capture_lead()
    london = ZoneInfo("Europe/London")

    lead_sla_start(lead=lead, now=datetime(2026, 12, 24, 18, 0, tzinfo=london))

    monday_eleven = datetime(2026, 12, 28, 11, 0, tzinfo=london)
    assert lead.first_response_due_at == monday_eleven
    assert lead.sla_next_check_at == monday_eleven


def test_reassignment_stops_after_the_limit_and_the_sales_team_is_told(team, settings):
    settings.LEADS_SLA_MAX_REASSIGNMENTS = 1
    first, second, _ = team
    lead = capture_lead()
    assert lead.owner == first.user
    minute = timedelta(minutes=1)
    for _ in range(3):  # the first owner's ladder: remind, team lead, reassign
        lead.refresh_from_db()
        assert lead_sla_breaches_process(now=lead.sla_next_check_at + minute) == 1
    lead.refresh_from_db()
    assert lead.owner == second.user
    for _ in range(3):  # the second owner's ladder ends with the team, not a third owner
        lead.refresh_from_db()
        assert lead_sla_breaches_process(now=lead.sla_next_check_at + minute) == 1
    lead.refresh_from_db()

    assert lead.owner == second.user
    assert lead.sla_state == SlaState.BREACHED
    assert lead.sla_next_check_at is None  # the ladder has ended
    last = lead.sla_events.order_by("-level").first()
    assert (last.level, last.action) == (6, "reassign")
    assert "Already reassigned 1 time without a first response" in last.detail
    assert lead.assignments.count() == 2  # routed once at intake, reassigned once
    assert lead_sla_breaches_process(now=_at(lead, 100_000)) == 0
