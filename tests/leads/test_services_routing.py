import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from config.models import AuditLogEntry
from leads.business_hours import BusinessHours
from leads.models import Assignment, Lead, LeadStatus, RoutingRule, SlaState
from leads.services import (
    AssignmentRefused,
    lead_assign,
    lead_first_contact_log,
    lead_sla_breaches_process,
    lead_status_change,
)
from tests.leads.factories import (
    OutOfOfficeFactory,
    RoutingRuleFactory,
    SalesOwnerFactory,
    UserFactory,
    capture_lead,
)

pytestmark = pytest.mark.django_db


def _owners_of(leads):
    return [lead.owner for lead in leads]


def test_round_robin_takes_turns():
    a, b, c = SalesOwnerFactory(), SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[a, b, c])

    leads = [capture_lead() for _ in range(5)]

    assert _owners_of(leads) == [a.user, b.user, c.user, a.user, b.user]
    assert "Round robin" in leads[0].assignments.get().reason


def test_an_owner_out_of_office_is_covered_by_their_delegate():
    a, b, cover = SalesOwnerFactory(), SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[a, b])
    now = timezone.now()
    OutOfOfficeFactory(
        owner=a, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1), delegate=cover
    )

    first, second = capture_lead(), capture_lead()

    assert _owners_of([first, second]) == [cover.user, b.user]
    assert f"delegate for {a}" in first.assignments.get().reason


def test_an_owner_away_without_a_delegate_is_skipped_and_back_after_the_period():
    a, b = SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[a, b])
    now = timezone.now()
    OutOfOfficeFactory(owner=a, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))
    OutOfOfficeFactory(owner=b, starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=6))

    assert _owners_of([capture_lead(), capture_lead()]) == [b.user, b.user]


def test_a_delegate_who_is_away_too_does_not_get_the_lead():
    a, b, cover = SalesOwnerFactory(), SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[a, b])
    now = timezone.now()
    window = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=5)}
    OutOfOfficeFactory(owner=a, delegate=cover, **window)
    OutOfOfficeFactory(owner=cover, **window)

    assert capture_lead().owner == b.user


def test_load_balancing_fills_the_emptiest_owner_by_capacity():
    small = SalesOwnerFactory(capacity=2)
    big = SalesOwnerFactory(capacity=6)
    RoutingRuleFactory(members=[small, big], strategy=RoutingRule.Strategy.LOAD_BALANCED)

    owners = _owners_of([capture_lead() for _ in range(8)])

    assert owners.count(small.user) == 2
    assert owners.count(big.user) == 6
    assert capture_lead().owner is None  # everyone is full: the lead waits unassigned


def test_rules_match_on_country_and_segment_in_priority_order():
    germany, business, anyone = SalesOwnerFactory(), SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(name="DACH", priority=1, countries=["DE", "AT", "CH"], members=[germany])
    RoutingRuleFactory(name="B2B", priority=2, segment="business", members=[business])
    RoutingRuleFactory(name="Everyone else", priority=9, members=[anyone])

    assert capture_lead(country="AT", company="GmbH").owner == germany.user
    assert capture_lead(country="GB", company="Acme Ltd").owner == business.user
    assert capture_lead(country="GB").owner == anyone.user


def test_a_full_rule_falls_through_to_the_next():
    full = SalesOwnerFactory(capacity=1)
    backup = SalesOwnerFactory()
    RoutingRuleFactory(priority=1, members=[full], strategy=RoutingRule.Strategy.LOAD_BALANCED)
    RoutingRuleFactory(priority=2, members=[backup])

    assert _owners_of([capture_lead(), capture_lead()]) == [full.user, backup.user]


def test_only_active_sales_staff_get_leads():
    not_sales = SalesOwnerFactory()
    not_sales.user.groups.remove(Group.objects.get(name="Sales"))
    inactive = SalesOwnerFactory(is_active=False)
    sales = SalesOwnerFactory()
    RoutingRuleFactory(members=[not_sales, inactive, sales])

    assert _owners_of([capture_lead(), capture_lead()]) == [sales.user, sales.user]


def test_manual_assignment_is_recorded_and_audited():
    lead = capture_lead()
    owner = SalesOwnerFactory().user
    staff = SalesOwnerFactory().user

    lead_assign(lead=lead, owner=owner, actor=staff)

    assert lead.owner == owner
    assignment = lead.assignments.get()
    assert assignment.assigned_by == staff
    assert AuditLogEntry.objects.filter(action="leads.lead_assigned").count() == 1


def test_leads_can_only_go_to_sales_staff():
    lead = capture_lead()
    with pytest.raises(AssignmentRefused):
        lead_assign(lead=lead, owner=UserFactory(), actor=None)


@pytest.fixture
def sla(settings):
    settings.LEADS_SLA_TIME_ZONE = "Europe/London"
    settings.LEADS_SLA_BUSINESS_DAYS = [0, 1, 2, 3, 4]
    settings.LEADS_SLA_BUSINESS_HOURS = ("09:00", "17:30")
    settings.LEADS_SLA_HOLIDAYS = []
    settings.LEADS_SLA_FIRST_RESPONSE_MINUTES = 120
    settings.LEADS_SLA_LADDER = [("notify_owner", 0), ("notify_team_lead", 60), ("reassign", 240)]
    first, second = SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[first])
    return first.user, second.user


def _after_due(lead, minutes=1):
    return lead.first_response_due_at + timedelta(minutes=minutes)


def test_manual_assignment_gives_the_new_owner_a_fresh_first_response_clock(sla):
    first, second = sla
    lead = capture_lead()
    assert lead_sla_breaches_process(now=_after_due(lead)) == 1
    lead.refresh_from_db()
    assert (lead.owner, lead.sla_state, lead.sla_level) == (first, SlaState.BREACHED, 1)

    assigned_at = _after_due(lead, 30)
    lead_assign(lead=lead, owner=second, actor=first, now=assigned_at)

    due = BusinessHours.from_settings().add(assigned_at, 120)
    assert (lead.owner, lead.sla_state, lead.sla_level) == (second, SlaState.PENDING, 0)
    assert lead.first_response_due_at == due
    assert lead.sla_next_check_at == due
    entry = AuditLogEntry.objects.get(action="leads.lead_assigned")
    assert entry.detail["sla_restarted"] is True

    assert lead_sla_breaches_process(now=assigned_at) == 0
    assert lead_sla_breaches_process(now=due - timedelta(minutes=1)) == 0
    assert lead_sla_breaches_process(now=due + timedelta(minutes=1)) == 1
    lead.refresh_from_db()
    assert (lead.sla_state, lead.sla_level) == (SlaState.BREACHED, 1)
    reminder = lead.sla_events.order_by("level").last()
    assert reminder.recipients == [second.email]
    # The first owner's reminder stays in the history.
    assert list(lead.sla_events.values_list("level", "action")) == [
        (1, "notify_owner"),
        (2, "notify_owner"),
    ]


def test_manual_assignment_of_a_contacted_lead_leaves_the_sla_alone(sla):
    first, second = sla
    lead = capture_lead()
    contacted_at = _after_due(lead, 10)
    lead_first_contact_log(lead=lead, actor=first, at=contacted_at)
    lead.refresh_from_db()
    before = (lead.first_response_due_at, lead.sla_state, lead.sla_level, lead.sla_next_check_at)

    lead_assign(lead=lead, owner=second, actor=first, now=_after_due(lead, 60))

    assert lead.owner == second
    after = (lead.first_response_due_at, lead.sla_state, lead.sla_level, lead.sla_next_check_at)
    assert after == before
    assert lead.sla_state == SlaState.MET_LATE
    entry = AuditLogEntry.objects.get(action="leads.lead_assigned")
    assert entry.detail["sla_restarted"] is False


def test_manual_assignment_of_a_lead_that_is_no_longer_new_leaves_the_sla_alone(sla):
    first, second = sla
    lead = capture_lead()
    lead_status_change(lead=lead, to=LeadStatus.UNQUALIFIED, actor=first)
    lead.refresh_from_db()
    before = (lead.first_response_due_at, lead.sla_state, lead.sla_level, lead.sla_next_check_at)

    lead_assign(lead=lead, owner=second, actor=first, now=_after_due(lead, 60))

    assert lead.owner == second
    after = (lead.first_response_due_at, lead.sla_state, lead.sla_level, lead.sla_next_check_at)
    assert after == before
    assert lead_sla_breaches_process(now=_after_due(lead, 10_000)) == 0


@pytest.mark.django_db(transaction=True)
def test_an_assignment_that_waited_for_the_lock_is_dated_after_the_one_it_waited_for():
    """Staff assign while a sweeper holds the lead and reassigns it: the staff assignment wins
    and must be the newest in the history, so it is dated when it gets the lock."""
    lead = capture_lead()
    sweeper_owner, staff_choice = SalesOwnerFactory().user, SalesOwnerFactory().user
    locked, waiting = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            with transaction.atomic():
                held = Lead.objects.select_for_update().get(pk=lead.pk)
                locked.set()
                waiting.wait(5)
                time.sleep(0.3)  # the staff request is now blocked on the lock
                held.owner = sweeper_owner
                Assignment.objects.create(
                    lead=held, owner=sweeper_owner, assigned_at=timezone.now(), reason="sweeper"
                )
                held.save(update_fields=["owner"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=sweeper)
    thread.start()
    assert locked.wait(5)
    waiting.set()
    lead_assign(lead=lead, owner=staff_choice, actor=None)
    thread.join()

    assert errors == []
    history = list(lead.assignments.order_by("-assigned_at").values_list("owner", "reason"))
    assert history[0][0] == staff_choice.pk
    assert history[1] == (sweeper_owner.pk, "sweeper")
    lead.refresh_from_db()
    assert lead.owner == staff_choice
