from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from leads.models import (
    ConsentConfirmation,
    ConsentRecord,
    ConsentText,
    Lead,
    LeadStatus,
    Segment,
    SlaState,
    Touchpoint,
)
from leads.services import LeadInputError, consent_text_current, consent_text_publish, lead_capture
from leads.services.intake import leads_intake_run
from leads.tasks import consent_confirmation_send_task
from tests.leads.factories import (
    RoutingRuleFactory,
    SalesOwnerFactory,
    capture_context,
    capture_lead,
)

pytestmark = pytest.mark.django_db


def _row_counts():
    return (
        Lead.objects.count(),
        ConsentRecord.objects.count(),
        Touchpoint.objects.count(),
        ConsentConfirmation.objects.count(),
    )


def test_a_first_submission_makes_one_lead_with_consents_and_a_touchpoint():
    lead = lead_capture(
        email="  Ada.Lovelace@Example.COM ",
        name="Ada Lovelace",
        company="Analytical Engines Ltd",
        phone="020 7946 0958",
        country="gb",
        consents={"terms": True, "marketing_email": False, "sms": False},
        touch={
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "utm_term": "billing portal",
            "utm_content": "ad-a",
            "referrer": "https://www.google.com/",
            "landing_page": "https://portal.example.com/start/?utm_source=google",
            "gclid": "Cj0KCQ",
            "fbclid": "",
        },
        context=capture_context(),
        started_at=timezone.now() - timedelta(seconds=30),
    )

    assert lead.email == "ada.lovelace@example.com"
    assert lead.phone == "+442079460958"
    assert lead.country == "GB"
    assert lead.segment == Segment.BUSINESS
    assert lead.status == LeadStatus.NEW
    assert lead.submissions == 1
    touch = lead.first_touch
    assert touch == lead.last_touch
    assert (touch.utm_source, touch.utm_medium, touch.utm_campaign) == ("google", "cpc", "spring")
    assert (touch.utm_term, touch.utm_content, touch.gclid) == ("billing portal", "ad-a", "Cj0KCQ")
    assert touch.referrer == "https://www.google.com/"
    assert touch.ip == "203.0.113.7"
    records = list(lead.consent_records.order_by("sequence"))
    assert [(r.purpose, r.decision) for r in records] == [
        ("terms", "granted"),
        ("marketing_email", "not_given"),
        ("sms", "not_given"),
    ]
    terms = records[0]
    assert terms.consent_text == consent_text_current(purpose="terms")
    assert terms.text_sha256 == terms.consent_text.sha256
    assert terms.method == "form" and terms.source_form == "lead_form"
    assert terms.user_agent.startswith("Mozilla/5.0")
    assert lead.consents == {"terms": "granted", "marketing_email": "not_given", "sms": "not_given"}
    assert lead.is_ready
    assert lead.risk_score == 0


def test_a_repeat_submission_updates_the_same_lead_and_adds_a_touchpoint():
    first = capture_lead(email="sam@example.com", name="Sam", touch={"utm_source": "newsletter"})
    second = capture_lead(
        email="SAM@example.com ",
        name="Sam Smith",
        company="",
        touch={"utm_source": "linkedin"},
    )

    assert second.pk == first.pk
    assert Lead.objects.count() == 1
    # Anyone can type anyone's email: a known lead's name is not rewritten, the owner is shown
    # what the repeat said.
    assert second.name == "Sam"
    assert second.submitted_details["name"] == "Sam Smith"
    assert second.submissions == 2
    assert second.first_touch.utm_source == "newsletter"
    assert second.last_touch.utm_source == "linkedin"
    assert Touchpoint.objects.filter(lead=second).count() == 2
    assert second.consent_records.count() == 2


def test_a_repeat_is_never_dated_before_the_touch_it_follows(monkeypatch):
    # The first submission went through a server whose clock runs 5 s ahead of this one's.
    ahead = timezone.now() + timedelta(seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: ahead)
    first = capture_lead(email="skew@example.com", touch={"utm_source": "first"})
    monkeypatch.undo()

    second = capture_lead(email="skew@example.com", touch={"utm_source": "second"})

    assert second.pk == first.pk
    assert second.last_touch.utm_source == "second"
    assert second.last_touch.created_at >= second.first_touch.created_at == ahead
    records = list(second.consent_records.order_by("sequence"))
    assert [record.created_at >= ahead for record in records] == [True, True]


def test_an_empty_optional_field_on_a_repeat_does_not_wipe_what_we_know():
    capture_lead(email="kim@example.com", company="Acme", phone="+49 30 901820", country="DE")
    lead = capture_lead(email="kim@example.com", company="", phone="", country="")

    assert (lead.company, lead.phone, lead.country) == ("Acme", "+4930901820", "DE")


@pytest.mark.parametrize(
    "variant",
    [
        "Jose@Example.com",
        "jose@example.com\u200b",  # zero-width space
        "\uff4aose@example.com",  # fullwidth j (NFKC)
        "jose@EXAMPLE.com.",
    ],
)
def test_case_whitespace_and_unicode_variants_are_one_lead(variant):
    first = capture_lead(email="jose@example.com")
    again = capture_lead(email=variant)
    assert again.pk == first.pk


def test_idn_domains_are_accepted_and_match_their_punycode_form():
    lead = capture_lead(email="user@MÜNCHEN.de")
    again = capture_lead(email="user@xn--mnchen-3ya.de")
    assert lead.email == "user@münchen.de"
    assert again.pk == lead.pk


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@b"),
        ("email", "not an email"),
        ("email", "x" * 250 + "@example.com"),
        ("name", ""),
        ("name", "\u200b\u202e"),
        ("name", "n" * 151),
        ("company", "c" * 201),
        ("phone", "12"),
        ("phone", "+44 20 7946 0958 ext 12345678901234567890"),
        ("country", "XX"),
    ],
)
def test_bad_input_names_the_field_and_creates_no_rows(field, value):
    values = {"email": "ok@example.com", "name": "Ok", "country": "GB", field: value}
    before = _row_counts()
    with pytest.raises(LeadInputError) as caught:
        lead_capture(consents={"terms": True}, context=capture_context(), **values)
    assert field in caught.value.errors
    assert _row_counts() == before


def test_several_bad_fields_are_reported_together():
    with pytest.raises(LeadInputError) as caught:
        lead_capture(
            email="nope",
            name="",
            phone="123",
            consents={"terms": True},
            context=capture_context(),
        )
    assert set(caught.value.errors) == {"email", "name", "phone"}


def test_markup_and_control_characters_in_names_are_kept_as_text_or_removed():
    lead = capture_lead(
        name="<script>alert(1)</script>\x00 Eve\r\nBcc: x@evil.example", company='"><svg onload=x>'
    )
    assert lead.name == "<script>alert(1)</script> Eve Bcc: x@evil.example"
    assert lead.company == '"><svg onload=x>'


def test_a_forged_consent_text_version_is_refused_without_rows():
    marketing = consent_text_current(purpose="marketing_email")
    before = _row_counts()
    with pytest.raises(LeadInputError) as caught:
        capture_lead(consents={"terms": True}, consent_text_ids={"terms": marketing.pk})
    assert "consents" in caught.value.errors
    with pytest.raises(LeadInputError):
        capture_lead(consents={"terms": True}, consent_text_ids={"terms": 987654})
    with pytest.raises(LeadInputError):
        capture_lead(consents={"terms": True, "newsletter": True})
    assert _row_counts() == before


def test_the_version_actually_rendered_is_recorded_even_after_a_new_version():
    shown = consent_text_current(purpose="terms")
    newer = consent_text_publish(purpose="terms", text="New terms wording.")

    lead = capture_lead(consents={"terms": True}, consent_text_ids={"terms": shown.pk})
    record = lead.consent_records.get()
    assert record.consent_text == shown
    assert consent_text_current(purpose="terms") == newer
    assert ConsentText.objects.filter(purpose="terms").count() == 2


def test_marketing_email_is_pending_until_confirmed_and_a_confirmation_is_queued(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        lead = capture_lead(consents={"terms": True, "marketing_email": True}, intake=False)

    record = lead.consent_records.get(purpose="marketing_email")
    assert record.decision == ConsentRecord.Decision.PENDING
    assert lead.consents["marketing_email"] == "pending"
    # Capture only schedules intake, once it commits; intake opens the confirmation.
    assert len(callbacks) == 1
    assert not ConsentConfirmation.objects.exists()
    with django_capture_on_commit_callbacks() as callbacks:
        assert leads_intake_run(lead_ids=[lead.pk]) == 1
        assert leads_intake_run(lead_ids=[lead.pk]) == 0  # done once
    confirmation = ConsentConfirmation.objects.get(pending_record=record)
    assert confirmation.sent_at is None
    assert len(callbacks) == 1  # the send task is enqueued only once intake commits

    # What the worker does with that task (called in-process: the body is one service call).
    assert consent_confirmation_send_task(confirmation.pk) is True
    assert consent_confirmation_send_task(confirmation.pk) is False  # idempotent
    confirmation.refresh_from_db()
    assert confirmation.sent_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [lead.email]
    assert "/consent/confirm/" in mail.outbox[0].body


def test_a_honeypot_hit_quarantines_the_lead_without_owner_sla_or_email(
    django_capture_on_commit_callbacks,
):
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    with django_capture_on_commit_callbacks() as callbacks:
        lead = capture_lead(
            consents={"terms": True, "marketing_email": True}, honeypot="http://spam.example"
        )

    assert lead.status == LeadStatus.SPAM
    assert lead.owner is None
    assert lead.sla_state == SlaState.NONE
    assert not lead.is_ready
    assert {f["rule"] for f in lead.risk_factors} == {"honeypot"}
    assert callbacks == []
    assert mail.outbox == []
    # The evidence is still recorded.
    assert lead.consent_records.count() == 2


def test_a_clean_resubmission_does_not_wash_away_an_earlier_risky_one():
    capture_lead(email="fast@example.com", started_at=timezone.now() - timedelta(seconds=0.5))
    lead = capture_lead(email="fast@example.com", started_at=timezone.now() - timedelta(minutes=2))

    assert [f["rule"] for f in lead.risk_factors] == ["too_fast"]
    assert lead.risk_score == 40


def test_a_new_lead_gets_an_owner_and_a_first_response_due_time():
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])

    lead = capture_lead()

    assert lead.owner == owner.user
    assert lead.sla_state == SlaState.PENDING
    assert lead.first_response_due_at > lead.created_at
    assert lead.assignments.get().owner == owner.user


def test_a_repeat_submission_keeps_the_owner_and_the_clock():
    first_owner, second_owner = SalesOwnerFactory(), SalesOwnerFactory()
    RoutingRuleFactory(members=[first_owner, second_owner])
    lead = capture_lead(email="same@example.com")
    again = capture_lead(email="same@example.com")

    assert again.owner == lead.owner
    assert again.first_response_due_at == lead.first_response_due_at
    assert again.assignments.count() == 1


def test_a_repeat_fills_empty_details_and_keeps_differing_ones_for_the_owner():
    capture_lead(email="pat@example.com", name="Pat", company="", phone="+44 20 7946 0958")
    lead = capture_lead(
        email="pat@example.com", name="Mallory", company="Evil Ltd", phone="+44 20 7946 0000"
    )

    assert (lead.name, lead.company, lead.phone) == ("Pat", "Evil Ltd", "+442079460958")
    assert lead.segment == "business"  # filled: the company was empty
    differing = {k: v for k, v in lead.submitted_details.items() if k != "at"}
    assert differing == {"name": "Mallory", "phone": "+442079460000"}
    assert lead.touchpoints.count() == 2
