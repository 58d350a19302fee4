import pytest

from config.models import AuditLogEntry
from leads.models import ConsentRecord, Lead, LeadStatus, SlaState
from leads.selectors import consent_chains_verify
from leads.services import (
    LeadInputError,
    LeadStatusRefused,
    lead_erase,
    lead_status_change,
    lead_update,
)
from tests.leads.factories import (
    RoutingRuleFactory,
    SalesOwnerFactory,
    SalesUserFactory,
    capture_context,
    capture_lead,
)

pytestmark = pytest.mark.django_db


def test_erasure_pseudonymises_personal_data_but_keeps_the_consent_evidence():
    lead = capture_lead(
        email="erase.me@example.com",
        name="Erin Erase",
        company="Erase Ltd",
        phone="+442079460958",
        consents={"terms": True, "sms": True},
        touch={"utm_source": "news", "referrer": "https://mail.example/?u=erase.me"},
        context=capture_context(ip="198.51.100.5"),
    )
    records_before = list(ConsentRecord.objects.filter(lead=lead).values_list("pk", "record_hash"))
    staff = SalesUserFactory()

    lead_erase(lead=lead, actor=staff, reason="Art. 17 request by email")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.ERASED
    assert lead.email == f"erased-{lead.pk}@erased.invalid"
    assert (lead.name, lead.company, lead.phone) == ("Erased person", "", "")
    assert lead.erased_at is not None
    assert not lead.is_ready
    assert lead.sla_state == SlaState.NONE
    touch = lead.first_touch
    assert (touch.ip, touch.referrer, touch.user_agent) == (None, "", "")
    assert touch.utm_source == "news"  # campaign-level data is not personal
    # The evidence is all still there, plus the withdrawal of the SMS consent.
    after = list(ConsentRecord.objects.filter(lead=lead).order_by("sequence"))
    assert [(r.pk, r.record_hash) for r in after[: len(records_before)]] == records_before
    assert (after[-1].purpose, after[-1].decision, after[-1].method) == (
        "sms",
        "withdrawn",
        "admin",
    )
    assert after[0].ip == "198.51.100.5"
    assert consent_chains_verify(lead_ids=[lead.pk]) == (1, [])
    assert AuditLogEntry.objects.filter(action="leads.lead_erased", actor=staff).exists()


def test_erasure_is_idempotent_and_the_person_can_come_back_as_a_new_lead():
    lead = capture_lead(email="back@example.com")
    lead_erase(lead=lead, actor=None)
    lead_erase(lead=lead, actor=None)

    newcomer = capture_lead(email="back@example.com")
    assert newcomer.pk != lead.pk
    assert Lead.objects.count() == 2
    # The same person's records share the keyed digest of their email across both leads.
    old = ConsentRecord.objects.filter(lead=lead).first().subject_digest
    new = ConsentRecord.objects.filter(lead=newcomer).first().subject_digest
    assert old == new


def test_an_erased_lead_cannot_be_edited_or_change_status():
    lead = capture_lead()
    lead_erase(lead=lead, actor=None)
    with pytest.raises(LeadInputError):
        lead_update(lead=lead, actor=None, name="Back again")
    with pytest.raises(LeadStatusRefused):
        lead_status_change(lead=lead, to=LeadStatus.NEW, actor=None)


def test_illegal_status_moves_are_refused():
    lead = capture_lead()
    lead_status_change(lead=lead, to=LeadStatus.QUALIFIED, actor=None)
    with pytest.raises(LeadStatusRefused):
        lead_status_change(lead=lead, to=LeadStatus.SPAM, actor=None)
    assert AuditLogEntry.objects.filter(action="leads.status_changed").count() == 1


def test_releasing_spam_routes_the_lead_and_starts_the_clock():
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    lead = capture_lead(honeypot="bot")
    assert lead.status == LeadStatus.SPAM and lead.owner is None

    lead_status_change(lead=lead, to=LeadStatus.NEW, actor=None)

    assert lead.owner == owner.user
    assert lead.sla_state == SlaState.PENDING
    assert lead.first_response_due_at is not None


def test_staff_edits_are_cleaned_like_the_form():
    lead = capture_lead(country="GB")
    with pytest.raises(LeadInputError) as caught:
        lead_update(lead=lead, actor=None, phone="12", country="XX")
    assert set(caught.value.errors) == {"phone", "country"}
    lead_update(lead=lead, actor=None, phone="020 7946 0958", segment="business")
    assert (lead.phone, lead.segment) == ("+442079460958", "business")


def test_erased_is_not_a_status_to_pick():
    lead = capture_lead()
    with pytest.raises(LeadStatusRefused):
        lead_status_change(lead=lead, to=LeadStatus.ERASED, actor=None)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_erasure_leaves_no_personal_details_in_the_audit_log(mailoutbox):
    """The audit log is append-only, so nothing personal may be written into it: staff edits
    name the fields they changed, and a sent checkout link is logged without its query."""
    import json

    from checkout.services.links import checkout_link_send
    from leads.services import lead_erase, lead_update
    from tests.checkout.factories import OfferFactory

    staff = SalesUserFactory(username="clerk")
    lead = capture_lead(email="nora.private@example.com", name="Nora Private")
    lead_update(lead=lead, actor=staff, name="Nora Secret", phone="+44 20 7946 0958")
    lead.refresh_from_db()
    assert checkout_link_send(lead=lead, offer=OfferFactory(), actor=staff)
    lead_erase(lead=lead, actor=staff, reason="Art. 17 request")

    logged = json.dumps(list(AuditLogEntry.objects.values_list("detail", flat=True)))
    for personal in ["Nora", "Private", "Secret", "nora.private", "7946", "%40example"]:
        assert personal not in logged
    updated = AuditLogEntry.objects.get(action="leads.lead_updated")
    assert updated.detail == {"name": "changed", "phone": "changed"}
    link = AuditLogEntry.objects.get(action="checkout.link_sent")
    assert link.detail["url"].endswith("/") and "?" not in link.detail["url"]
