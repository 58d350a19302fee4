from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from config.models import AuditLogEntry
from leads.models import RoutingRule
from leads.services import AssignmentRefused, lead_assign
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
