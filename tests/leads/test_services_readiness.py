import pytest

from config.models import AuditLogEntry
from leads.models import Lead, ReadinessPolicy
from leads.services import (
    lead_readiness,
    lead_readiness_refresh,
    lead_update,
    readiness_policy_active,
    readiness_policy_save,
)
from leads.services.readiness import leads_readiness_reevaluate_all
from tests.leads.factories import SalesUserFactory, capture_context, capture_lead

pytestmark = pytest.mark.django_db


def test_a_clean_lead_with_terms_is_ready_with_a_full_checklist():
    lead = capture_lead(consents={"terms": True}, country="GB")
    result = lead_readiness(lead=lead)

    assert result.ready
    assert result.risk_score == 0
    assert [ok for _, ok in result.checklist] == [True] * 5
    labels = [label for label, _ in result.checklist]
    assert labels[0] == "Consent given: Terms and privacy notice"
    assert "Billing country is known" in labels
    assert lead.readiness_checklist == [[label, ok] for label, ok in result.checklist]


def test_each_missing_input_is_a_reason_on_the_checklist():
    lead = capture_lead(
        email="x@mailinator.com",
        consents={"terms": False},
        country="",
        context=capture_context(ip_country="FR", ip="192.0.2.44"),
    )
    result = lead_readiness(lead=lead)
    failed = [label for label, ok in result.checklist if not ok]

    assert not result.ready
    assert failed == [
        "Consent given: Terms and privacy notice",
        "Billing country is known",
    ]
    assert result.risk_score == 30  # the disposable domain, still under the 50 maximum
    assert [f["rule"] for f in result.risk_factors] == ["disposable_email"]


def test_the_policy_decides_countries_risk_and_tender():
    policy = readiness_policy_active()
    policy.allowed_billing_countries = ["DE", "FR"]
    policy.max_risk_score = 10
    policy.accepted_tender_types = ["sepa_debit"]
    policy.save()
    lead = capture_lead(email="y@yopmail.com", country="GB")

    failed = [label for label, ok in lead_readiness(lead=lead).checklist if not ok]

    assert failed == [
        "Billing country is one we sell to (United Kingdom)",
        "Risk score 30 is at most 10",
        "Pays by a method we accept (Card)",
    ]


def test_changing_an_input_re_evaluates_the_lead():
    lead = capture_lead(country="")
    assert not lead.is_ready
    lead_update(lead=lead, actor=SalesUserFactory(), country="IE")
    lead.refresh_from_db()
    assert lead.is_ready
    assert AuditLogEntry.objects.filter(action="leads.lead_updated").count() == 1


def test_saving_the_policy_re_evaluates_every_lead(django_capture_on_commit_callbacks):
    ready = capture_lead(country="GB")
    assert ready.is_ready
    policy = readiness_policy_active()
    policy.allowed_billing_countries = ["de", " fr "]

    with django_capture_on_commit_callbacks() as callbacks:
        readiness_policy_save(policy=policy, actor=SalesUserFactory())
    assert len(callbacks) == 1  # enqueue the re-evaluation
    assert ReadinessPolicy.objects.get(pk=policy.pk).allowed_billing_countries == ["DE", "FR"]

    # The worker's task body:
    assert leads_readiness_reevaluate_all() == 1
    ready.refresh_from_db()
    assert not ready.is_ready


def test_only_one_policy_is_active():
    old = readiness_policy_active()
    new = ReadinessPolicy(name="Stricter", is_active=True, max_risk_score=5)
    readiness_policy_save(policy=new, actor=None)
    old.refresh_from_db()
    assert not old.is_active
    assert readiness_policy_active() == new


def test_refresh_stores_the_result():
    lead = capture_lead()
    Lead.objects.filter(pk=lead.pk).update(is_ready=False, readiness_checklist=[])
    result = lead_readiness_refresh(lead=lead)
    assert result.ready and lead.is_ready
    assert len(lead.readiness_checklist) == 5
