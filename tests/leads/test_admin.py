import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from config.models import AuditLogEntry
from leads.admin import LeadAdmin
from leads.models import ConsentRecord, ConsentText, LeadStatus, ReadinessPolicy
from leads.services import consent_text_current
from tests.leads.factories import (
    RoutingRuleFactory,
    SalesOwnerFactory,
    SalesUserFactory,
    capture_lead,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/leads/lead/"


@pytest.fixture
def sales(client):
    user = SalesUserFactory(username="seller")
    client.force_login(user)
    return user


@pytest.fixture
def admin_staff(client):
    """Consent wording, the readiness policy and routing are Admin-group decisions."""
    user = SalesUserFactory(username="portal-admin")
    user.groups.add(Group.objects.get(name="Admin"))
    client.force_login(user)
    return user


def _action(client, action, leads, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [lead.pk for lead in leads], **extra},
        follow=True,
    )


def test_sales_staff_see_leads_with_badges_and_filters(client, sales):
    RoutingRuleFactory(members=[SalesOwnerFactory()])
    capture_lead(name="Ready Rita", consents={"terms": True, "marketing_email": True})
    capture_lead(name="Unready Uma", consents={"terms": False}, country="")

    html = client.get(CHANGELIST).content.decode()

    assert "Ready Rita" in html and "Unready Uma" in html
    assert 'lead-badge--ok">Ready<' in html
    assert "Not ready (2)" in html
    assert "Email: waiting for email confirmation" in html
    for title in ["owner", "first response", "payment ready", "consent"]:
        assert f'data-filter-title="{title}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("is_ready__exact=1", ["Ready Rita"]),
        ("consent=terms:not_given", ["Unready Uma"]),
        ("consent=marketing_email:pending", ["Ready Rita"]),
        ("sla_state__exact=pending", ["Ready Rita", "Unready Uma"]),
        ("sla_state__exact=breached", []),
    ],
)
def test_list_filters(client, sales, query, expected):
    capture_lead(name="Ready Rita", consents={"terms": True, "marketing_email": True})
    capture_lead(name="Unready Uma", consents={"terms": False}, country="")

    html = client.get(f"{CHANGELIST}?{query}").content.decode()
    shown = sorted(re.findall(r'<td class="field-name">(?:<a [^>]*>)?([^<]+)<', html))
    assert shown == expected


def test_the_owner_filter(client, sales):
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    mine = capture_lead(name="Owned Olga")
    html = client.get(f"{CHANGELIST}?owner__id__exact={owner.user_id}").content.decode()
    assert "Owned Olga" in html
    assert mine.owner == owner.user


def test_assign_action_gives_leads_to_the_chosen_owner(client, sales):
    owner = SalesOwnerFactory().user
    leads = [capture_lead(), capture_lead()]

    response = _action(client, "assign_owner", leads, owner=owner.pk)

    assert "2 lead(s) assigned" in response.content.decode()
    for lead in leads:
        lead.refresh_from_db()
        assert lead.owner == owner
        assert lead.assignments.get().assigned_by == sales


def test_log_first_contact_action_stops_the_clock(client, sales):
    # Sales work their own leads (and unassigned ones): this one is routed to the seller.
    owner = SalesOwnerFactory(user=sales)
    RoutingRuleFactory(members=[owner])
    lead = capture_lead()
    _action(client, "log_first_contact", [lead])
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None
    assert lead.sla_next_check_at is None
    assert lead.status == LeadStatus.CONTACTED


def test_erase_action_pseudonymises(client):
    admin_user = SalesUserFactory(username="privacy-admin")
    admin_user.groups.add(Group.objects.get(name="Admin"))
    client.force_login(admin_user)
    lead = capture_lead(name="Forget Me")
    response = _action(client, "erase_personal_data", [lead])
    assert "pseudonymised" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ERASED and lead.name == "Erased person"


def test_sales_staff_cannot_erase_or_rewrite_policy(client, sales):
    lead = capture_lead(name="Keep Me")
    html = client.get(CHANGELIST).content.decode()
    assert "erase_personal_data" not in html
    _action(client, "erase_personal_data", [lead])
    lead.refresh_from_db()
    assert lead.status != LeadStatus.ERASED
    assert not sales.has_perm("leads.change_readinesspolicy")
    assert not sales.has_perm("leads.add_consenttext")
    assert sales.has_perm("leads.change_lead")


def test_finance_staff_see_leads_but_cannot_work_them(client):
    """Finance may look a buyer up; assigning, logging contact and spam are Sales' work."""
    finance = SalesUserFactory(username="fin")
    finance.groups.set([Group.objects.get(name="Finance")])
    client.force_login(finance)
    owner = SalesOwnerFactory().user
    lead = capture_lead(name="Look Only")
    before = (lead.owner_id, lead.status, lead.first_contacted_at)

    html = client.get(CHANGELIST).content.decode()
    assert "Look Only" in html
    for action in ["assign_owner", "log_first_contact", "mark_spam", "release_from_spam"]:
        assert f'value="{action}"' not in html
        _action(client, action, [lead], owner=owner.pk)
    lead.refresh_from_db()
    assert (lead.owner_id, lead.status, lead.first_contacted_at) == before
    assert not lead.assignments.exists()


def test_the_change_page_shows_a_read_only_consent_history_and_escapes_names(client, sales):
    lead = capture_lead(name="<script>alert(1)</script>", consents={"terms": True, "sms": False})
    html = client.get(f"{CHANGELIST}{lead.pk}/change/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Consent history" in html
    assert consent_text_current(purpose="terms").text in html
    assert "Not given (box left unticked)" in html
    assert lead.consent_records.first().record_hash[:12] in html
    assert "Checklist" in html and "Risk rules that fired" in html


def test_editing_a_lead_goes_through_the_services(client, sales):
    lead = capture_lead(country="")
    owner = SalesOwnerFactory().user
    response = client.post(
        f"{CHANGELIST}{lead.pk}/change/",
        {
            "name": "Corrected Name",
            "company": "",
            "phone": "020 7946 0958",
            "country": "GB",
            "segment": "consumer",
            "preferred_tender": "card",
            "status": "new",
            "owner": owner.pk,
            **_empty_inlines(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    lead.refresh_from_db()
    assert (lead.name, lead.phone, lead.country, lead.owner) == (
        "Corrected Name",
        "+442079460958",
        "GB",
        owner,
    )
    assert lead.is_ready
    assert AuditLogEntry.objects.filter(action="leads.lead_updated").exists()
    assert AuditLogEntry.objects.filter(action="leads.lead_assigned").exists()


def _empty_inlines():
    data = {}
    for prefix in ["assignments", "sla_events", "touchpoints"]:
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def test_consent_records_cannot_be_changed_or_deleted_in_the_admin(client, sales):
    lead = capture_lead()
    record = ConsentRecord.objects.get(lead=lead)
    assert client.get(f"/admin/leads/consentrecord/{record.pk}/change/").status_code == 200
    response = client.post(f"/admin/leads/consentrecord/{record.pk}/change/", {"decision": "x"})
    assert response.status_code == 403
    assert client.post(f"/admin/leads/consentrecord/{record.pk}/delete/").status_code == 403
    assert client.get("/admin/leads/consentrecord/add/").status_code == 403
    assert client.post(f"{CHANGELIST}{lead.pk}/delete/").status_code == 403
    assert not sales.has_perm("leads.change_consentrecord")


def test_new_consent_wording_is_a_new_version(client, admin_staff):
    old = consent_text_current(purpose="terms")
    response = client.post(
        "/admin/leads/consenttext/add/", {"purpose": "terms", "text": "Version two words."}
    )
    assert response.status_code == 302
    assert consent_text_current(purpose="terms").version == old.version + 1
    assert ConsentText.objects.get(pk=old.pk).text == old.text


def test_policy_edits_are_validated_and_saved_through_the_service(
    client, admin_staff, django_capture_on_commit_callbacks
):
    policy = ReadinessPolicy.objects.get(is_active=True)
    url = f"/admin/leads/readinesspolicy/{policy.pk}/change/"
    data = {
        "name": "Default",
        "is_active": "on",
        "required_consents": ["terms"],
        "allowed_billing_countries": "gb,XX",
        "max_risk_score": "40",
        "accepted_tender_types": ["card"],
    }
    assert "is not an ISO country code" in client.post(url, data).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(url, {**data, "allowed_billing_countries": "gb,de"}).status_code == 302
    policy.refresh_from_db()
    assert policy.allowed_billing_countries == ["DE", "GB"]
    assert policy.updated_by == admin_staff
    assert len(callbacks) == 1  # the re-evaluation


def test_other_apps_can_add_lead_actions():
    assert isinstance(LeadAdmin.actions, list)

    def send_checkout_link(modeladmin, request, queryset):
        pass

    LeadAdmin.actions.append(send_checkout_link)
    try:
        from django.contrib import admin
        from django.test import RequestFactory

        from leads.models import Lead

        request = RequestFactory().get(CHANGELIST)
        request.user = SalesUserFactory()
        actions = admin.site._registry[Lead].get_actions(request)
        assert "send_checkout_link" in actions
    finally:
        LeadAdmin.actions.remove(send_checkout_link)


def test_changelist_query_count_does_not_grow_with_leads(
    client, sales, django_assert_max_num_queries
):
    for _ in range(15):
        capture_lead()
    # 13: one is the two-factor check (has this staff user enrolled an authenticator?).
    with django_assert_max_num_queries(13):
        assert client.get(CHANGELIST).status_code == 200


def test_routing_admin_pages_render(client, admin_staff):
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    for url in [
        "/admin/leads/salesowner/",
        f"/admin/leads/salesowner/{owner.pk}/change/",
        "/admin/leads/routingrule/",
        "/admin/leads/readinesspolicy/",
        "/admin/leads/touchpoint/",
        "/admin/leads/consentrecord/",
        reverse("admin:leads_consenttext_changelist"),
    ]:
        assert client.get(url).status_code == 200, url


def test_the_status_list_does_not_offer_erased(client, sales):
    lead = capture_lead()
    html = client.get(f"{CHANGELIST}{lead.pk}/change/").content.decode()
    status_select = re.search(r'<select name="status".*?</select>', html, re.S)[0]
    assert 'value="erased"' not in status_select
    assert 'value="spam"' in status_select


def test_sales_staff_can_view_routing_pages_read_only(client, sales):
    owner = SalesOwnerFactory()
    assert client.get(f"/admin/leads/salesowner/{owner.pk}/change/").status_code == 200
    assert client.get("/admin/leads/readinesspolicy/").status_code == 200
