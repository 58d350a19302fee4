import itertools
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leads.models import (
    ConsentConfirmation,
    ConsentRecord,
    ConsentState,
    ConsentText,
)
from leads.services import (
    ConsentLinkExpired,
    ConsentLinkInvalid,
    consent_double_opt_in_confirm,
    consent_record_append,
    consent_text_current,
    consent_text_publish,
    consent_withdraw,
    marketing_email_build,
)
from leads.services.consent import (
    consent_confirmation_send,
    consent_confirmation_token,
    consent_record_hash,
    consent_withdrawal_target,
    consent_withdrawal_token,
)
from tests.leads.factories import SalesUserFactory, capture_context, capture_lead

pytestmark = pytest.mark.django_db


def _marketing_lead(**kwargs):
    lead = capture_lead(consents={"terms": True, "marketing_email": True}, **kwargs)
    confirmation = ConsentConfirmation.objects.get(lead=lead)
    return lead, confirmation


def test_each_record_links_to_the_previous_one_by_hash():
    lead = capture_lead(consents={"terms": True, "marketing_email": False, "sms": True})
    capture_lead(email=lead.email, consents={"terms": True})

    records = list(ConsentRecord.objects.filter(lead=lead).order_by("sequence"))
    assert [r.sequence for r in records] == [1, 2, 3, 4]
    assert records[0].prev_hash == ""
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.record_hash
    for record in records:
        assert consent_record_hash(record) == record.record_hash
    lead.refresh_from_db()
    assert lead.consent_chain_head == records[-1].record_hash
    assert lead.consent_chain_length == 4


def test_ipv6_addresses_hash_the_same_after_the_database_round_trip():
    lead = capture_lead(context=capture_context(ip="2001:DB8:0:0:0:0:0:1"))
    record = ConsentRecord.objects.get(lead=lead)
    assert record.ip == "2001:db8::1"
    assert consent_record_hash(record) == record.record_hash


def test_records_and_texts_cannot_be_updated_or_deleted_even_outside_the_admin():
    lead = capture_lead()
    record = lead.consent_records.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.filter(pk=record.pk).update(decision="withdrawn")
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentText.objects.filter(pk=record.consent_text_id).update(text="Other words")
    record.refresh_from_db()
    assert record.decision == "granted"


def test_publishing_wording_makes_a_new_version_and_keeps_the_old():
    first = consent_text_current(purpose="sms")
    second = consent_text_publish(purpose="sms", text="Texts about your order only.")
    assert second.version == first.version + 1
    assert consent_text_current(purpose="sms") == second
    assert ConsentText.objects.get(pk=first.pk).text == first.text


def test_double_opt_in_confirmation_grants_marketing_email_once():
    lead, confirmation = _marketing_lead()
    token = consent_confirmation_token(confirmation)
    click = capture_context(method="double_opt_in", source_form="double_opt_in", ip="192.0.2.9")

    consent_double_opt_in_confirm(token=token, context=click)
    consent_double_opt_in_confirm(token=token, context=click)  # a second click

    lead.refresh_from_db()
    assert lead.consents["marketing_email"] == ConsentState.GRANTED
    confirmed = lead.consent_records.filter(method="double_opt_in")
    assert confirmed.count() == 1
    record = confirmed.get()
    assert record.decision == "granted"
    assert record.ip == "192.0.2.9"
    assert record.consent_text == confirmation.pending_record.consent_text


def test_an_expired_or_altered_confirmation_link_grants_nothing():
    lead, confirmation = _marketing_lead()
    token = consent_confirmation_token(confirmation)
    later = timezone.now() + timedelta(hours=73)

    with pytest.raises(ConsentLinkExpired):
        consent_double_opt_in_confirm(token=token, context=capture_context(), now=later)
    with pytest.raises(ConsentLinkInvalid):
        consent_double_opt_in_confirm(token=token[:-2] + "xx", context=capture_context())
    forged = signing.dumps({"c": confirmation.pk}, salt="some-other-salt")
    with pytest.raises(ConsentLinkInvalid):
        consent_double_opt_in_confirm(token=forged, context=capture_context())
    lead.refresh_from_db()
    assert lead.consents["marketing_email"] == ConsentState.PENDING


def test_a_repeat_tick_after_confirmation_needs_no_new_confirmation():
    lead, confirmation = _marketing_lead(email="again@example.com")
    consent_double_opt_in_confirm(
        token=consent_confirmation_token(confirmation), context=capture_context()
    )
    capture_lead(email="again@example.com", consents={"terms": True, "marketing_email": True})

    assert ConsentConfirmation.objects.filter(lead=lead).count() == 1
    latest = lead.consent_records.order_by("-sequence").first()
    assert (latest.purpose, latest.decision) == ("marketing_email", "granted")


def test_an_unticked_box_later_does_not_withdraw_a_consent_given_before():
    lead = capture_lead(email="keep@example.com", consents={"terms": True, "sms": True})
    capture_lead(email="keep@example.com", consents={"terms": True, "sms": False})
    lead.refresh_from_db()
    assert lead.consents["sms"] == ConsentState.GRANTED
    assert lead.consent_records.filter(purpose="sms").count() == 2


def test_the_confirmation_email_is_sent_once_and_never_to_expired_requests():
    lead, confirmation = _marketing_lead()
    assert consent_confirmation_send(confirmation_id=confirmation.pk)
    assert not consent_confirmation_send(confirmation_id=confirmation.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [lead.email]
    assert "\n" not in message.subject

    _, stale = _marketing_lead()
    assert not consent_confirmation_send(
        confirmation_id=stale.pk, now=timezone.now() + timedelta(days=4)
    )
    assert len(mail.outbox) == 1


def test_withdrawal_records_once_and_names_the_wording_agreed_to():
    lead = capture_lead(consents={"terms": True, "sms": True})
    agreed = lead.consent_records.get(purpose="sms").consent_text
    consent_text_publish(purpose="sms", text="Newer SMS wording.")
    link = capture_context(method="withdrawal_link", source_form="withdrawal_link")

    first = consent_withdraw(lead=lead, purpose="sms", context=link)
    second = consent_withdraw(lead=lead, purpose="sms", context=link)

    assert first.decision == "withdrawn" and first.method == "withdrawal_link"
    assert first.consent_text == agreed
    assert second is None
    lead.refresh_from_db()
    assert lead.consents["sms"] == ConsentState.WITHDRAWN


def test_withdrawal_tokens_do_not_expire_and_cannot_be_forged():
    lead = capture_lead()
    token = consent_withdrawal_token(lead=lead, purpose="marketing_email")
    assert consent_withdrawal_target(token) == (lead, "marketing_email")
    with pytest.raises(ConsentLinkInvalid):
        consent_withdrawal_target(signing.dumps({"l": lead.pk, "p": "sms"}, salt="x"))


def test_marketing_messages_carry_a_one_click_withdrawal_link():
    lead, confirmation = _marketing_lead()
    with pytest.raises(PermissionError):
        marketing_email_build(lead=lead, subject="News", body="Hello")
    consent_double_opt_in_confirm(
        token=consent_confirmation_token(confirmation), context=capture_context()
    )
    lead.refresh_from_db()

    message = marketing_email_build(lead=lead, subject="News", body="Hello")

    assert "/consent/withdraw/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")


def test_staff_can_append_a_decision_and_it_re_evaluates_readiness():
    lead = capture_lead(consents={"terms": False})
    assert not lead.is_ready
    staff = SalesUserFactory()
    consent_record_append(
        lead=lead,
        purpose="terms",
        decision="granted",
        context=capture_context(method="admin", source_form="admin", ip=None),
        actor=staff,
    )
    lead.refresh_from_db()
    assert lead.is_ready
    assert lead.consent_records.order_by("-sequence").first().actor == staff


def test_concurrent_appends_for_one_lead_keep_one_linear_chain(transactional_db):
    import threading

    lead = capture_lead()
    errors = []

    def append(n):
        try:
            consent_record_append(
                lead=lead,
                purpose="sms",
                decision="granted" if n % 2 else "withdrawn",
                context=capture_context(method="admin"),
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    records = list(ConsentRecord.objects.filter(lead=lead).order_by("sequence"))
    assert [r.sequence for r in records] == list(range(1, 10))
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.record_hash


def test_a_chain_never_goes_back_in_time_when_a_server_clock_is_behind(monkeypatch):
    # The lead's records were written by a server whose clock runs 5 s ahead of this one's.
    ahead = timezone.now() + timedelta(seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: ahead)
    lead = capture_lead(consents={"terms": True, "sms": True})
    monkeypatch.undo()

    withdrawal = consent_withdraw(lead=lead, purpose="sms", context=capture_context())

    times = list(lead.consent_records.order_by("sequence").values_list("created_at", flat=True))
    assert times == [ahead, ahead, withdrawal.created_at]
    assert withdrawal.created_at >= ahead
    assert withdrawal.record_hash == consent_record_hash(withdrawal)


def test_the_subject_digest_is_salted_hmac_of_the_email_and_follows_the_secret_key(settings):
    from django.utils.crypto import salted_hmac

    from leads.services.consent import consent_subject_digest

    for email in ["ada@example.com", "zoë@münchen.de", ""]:
        expected = salted_hmac("leads.consent-subject", email, algorithm="sha256").hexdigest()
        assert consent_subject_digest(email) == expected
    before = consent_subject_digest("ada@example.com")
    settings.SECRET_KEY = "another-" + "z" * 50
    assert consent_subject_digest("ada@example.com") != before
    expected = salted_hmac("leads.consent-subject", "ada@example.com", algorithm="sha256")
    assert consent_subject_digest("ada@example.com") == expected.hexdigest()
