import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from leads.models import ConsentRecord, ConsentText
from leads.selectors import consent_chains_verify, lead_consent_history, leads_sla_overdue
from tests.leads.factories import capture_lead

pytestmark = pytest.mark.django_db


def _as_superuser_tamper(sql: str, params: list) -> None:
    """What a database superuser (or an attacker who became one) could do: run with triggers
    off, so the append-only guard does not fire."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def two_leads():
    first = capture_lead(consents={"terms": True, "marketing_email": False, "sms": True})
    second = capture_lead(consents={"terms": True})
    return first, second


def test_intact_chains_verify_clean(two_leads, capsys):
    checked, problems = consent_chains_verify()
    assert (checked, problems) == (2, [])
    call_command("consent_chain_verify")
    assert "2 consent chain(s) verified, all intact" in capsys.readouterr().out


def test_an_edited_record_is_detected(two_leads):
    first, _second = two_leads
    record = first.consent_records.get(purpose="marketing_email")
    _as_superuser_tamper(
        "UPDATE leads_consentrecord SET decision = 'granted' WHERE id = %s", [record.pk]
    )

    _, problems = consent_chains_verify()

    assert [(p.lead_id, p.sequence) for p in problems] == [(first.pk, record.sequence)]
    assert "changed after it was written" in problems[0].problem
    with pytest.raises(CommandError, match="1 problem"):
        call_command("consent_chain_verify")


def test_a_record_edited_with_a_recomputed_hash_breaks_the_next_link(two_leads):
    from leads.services.consent import consent_record_hash

    first, _ = two_leads
    record = first.consent_records.get(sequence=1)
    record.ip = "10.9.9.9"
    forged_hash = consent_record_hash(record)
    _as_superuser_tamper(
        "UPDATE leads_consentrecord SET ip = %s, record_hash = %s WHERE id = %s",
        ["10.9.9.9", forged_hash, record.pk],
    )

    _, problems = consent_chains_verify(lead_ids=[first.pk])

    assert [(p.sequence, p.problem) for p in problems] == [
        (2, "does not follow the record before it")
    ]


def test_a_removed_record_is_detected_in_the_middle_and_at_the_end(two_leads):
    first, second = two_leads
    _as_superuser_tamper(
        "DELETE FROM leads_consentrecord WHERE lead_id = %s AND sequence = 2", [first.pk]
    )
    _as_superuser_tamper(
        "DELETE FROM leads_consentrecord WHERE lead_id = %s AND sequence = 1", [second.pk]
    )

    _, problems = consent_chains_verify()

    by_lead = {}
    for problem in problems:
        by_lead.setdefault(problem.lead_id, []).append(problem)
    assert {p.sequence for p in by_lead[first.pk]} >= {3}
    assert any("records removed or added" in p.problem for p in by_lead[second.pk])


def test_changed_consent_wording_is_detected(two_leads):
    first, _ = two_leads
    text = first.consent_records.get(purpose="terms").consent_text
    _as_superuser_tamper(
        "UPDATE leads_consenttext SET text = %s WHERE id = %s", ["Softer wording", text.pk]
    )
    _, problems = consent_chains_verify()
    assert problems and all("no longer matches its hash" in p.problem for p in problems)
    assert ConsentText.objects.get(pk=text.pk).text == "Softer wording"


def test_the_command_checks_only_the_leads_asked_for(two_leads, capsys):
    first, second = two_leads
    _as_superuser_tamper(
        "UPDATE leads_consentrecord SET user_agent = 'x' WHERE lead_id = %s", [second.pk]
    )
    call_command("consent_chain_verify", "--lead", str(first.pk))
    assert "1 consent chain(s) verified" in capsys.readouterr().out


def test_consent_history_is_in_chain_order(two_leads):
    first, _ = two_leads
    history = list(lead_consent_history(lead=first))
    assert [r.sequence for r in history] == [1, 2, 3]
    assert all(isinstance(r, ConsentRecord) for r in history)


def test_overdue_leads_are_those_past_due_without_contact(two_leads):
    from datetime import timedelta

    first, _second = two_leads
    first.first_response_due_at = first.created_at
    first.sla_state = "pending"
    first.save()
    assert list(leads_sla_overdue(now=first.created_at + timedelta(minutes=1))) == [first]
