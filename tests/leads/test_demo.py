import pytest
from django.core.management import call_command

from leads.models import ConsentRecord, Lead, RoutingRule, SalesOwner, Touchpoint


@pytest.mark.django_db
def test_seed_demo_creates_leads_owned_by_sales_and_is_idempotent(settings):
    settings.DEMO_STAFF_PASSWORD = "local-demo-pass"
    call_command("seed_demo")
    counts = (
        Lead.objects.count(),
        ConsentRecord.objects.count(),
        Touchpoint.objects.count(),
        RoutingRule.objects.count(),
        SalesOwner.objects.count(),
    )
    call_command("seed_demo")

    assert counts == (3, 9, 3, 1, 1)
    assert (
        Lead.objects.count(),
        ConsentRecord.objects.count(),
        Touchpoint.objects.count(),
        RoutingRule.objects.count(),
        SalesOwner.objects.count(),
    ) == counts
    assert set(Lead.objects.values_list("owner__username", flat=True)) == {"sales"}
    assert Lead.objects.get(email="ada.lovelace@demo.example.com").is_ready
    assert not Lead.objects.get(email="no.terms@demo.example.com").is_ready
