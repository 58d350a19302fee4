"""SLA escalation with time travel: every service takes `now`, so the test moves the clock."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from leads.business_hours import BusinessHours
from leads.models import LeadStatus, SlaEvent, SlaState
from leads.services import lead_first_contact_log, lead_sla_breaches_process
from leads.services.sla import lead_sla_event_notify
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

    assert lead_sla_breaches_process(now=_at(lead, 240) + second_minute) == 1
    lead.refresh_from_db()
    assert lead.owner == second.user
    assert lead.sla_next_check_at is None  # the end of the ladder
    assert "SLA breach, reassigned" in lead.assignments.first().reason
    _notify_all()
    assert set(mail.outbox[-1].to) == {second.user.email, first.user.email}

    assert list(lead.sla_events.values_list("level", "action")) == [
        (1, "notify_owner"),
        (2, "notify_team_lead"),
        (3, "reassign"),
    ]
    assert lead_sla_breaches_process(now=_at(lead, 10_000)) == 0


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
