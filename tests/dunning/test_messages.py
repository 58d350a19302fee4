"""Messages: one message log (checkout's Notification) with channel, language and template; SMS
only with consent from the ledger; editable templates with an admin preview; failures visible."""

from datetime import timedelta
from smtplib import SMTPRecipientsRefused

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from checkout.models import Notification
from config import sms
from dunning.models import DunningMessageTemplate, DunningPolicy, DunningPolicyStep
from dunning.services.messages import dunning_message_send
from leads.services import consent_withdraw
from tests.checkout.factories import OfferFactory
from tests.dunning.factories import case_opened, checkout_declined_by_webhook
from tests.leads.factories import capture_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]

PHONE = "+442079460958"


class BouncingBackend(BaseEmailBackend):
    """The mail server refuses the recipient (what a hard bounce looks like over SMTP)."""

    def send_messages(self, email_messages):
        raise SMTPRecipientsRefused({m.to[0]: (550, b"no such mailbox") for m in email_messages})


def _texting_offer():
    offer = OfferFactory()
    policy = DunningPolicy.objects.create(name="Text first", offer=offer)
    DunningPolicyStep.objects.create(
        policy=policy, position=0, offset=timedelta(0), action="sms", template="first_notice"
    )
    DunningPolicyStep.objects.create(
        policy=policy, position=1, offset=timedelta(days=1), action="email", template="reminder"
    )
    return offer


def test_a_text_message_goes_only_with_sms_consent(localstripe, client):
    offer = _texting_offer()
    consented, _ = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", offer=offer, phone=PHONE, sms=True
    )
    assert consented.lead.consent_state("sms") == "granted"
    refused, _ = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", offer=offer, phone=PHONE, sms=False
    )
    case_opened(consented)
    case = case_opened(refused)

    assert [m.to for m in sms.outbox] == [PHONE]
    assert "/pay/" in sms.outbox[0].body and len(sms.outbox[0].body) <= 480
    texted = Notification.objects.get(channel="sms")
    assert (texted.order_id, texted.to_phone, texted.status, texted.template) == (
        consented.pk, PHONE, "sent", "dunning/first_notice",
    )  # fmt: skip
    assert texted.to_email == "" and texted.body_html == ""
    # The other buyer gave a number but no SMS consent: nothing was sent, and the case says why.
    assert not Notification.objects.filter(order=refused, channel="sms").exists()
    assert case.events.get(cause="sms_not_sent").detail == {"reason": "no SMS consent"}
    assert mail.outbox == []  # the email is the next step, a day later


def test_a_withdrawal_between_deciding_and_sending_wins(localstripe, client):
    offer = _texting_offer()
    order, _ = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", offer=offer, phone=PHONE, sms=True
    )
    case = case_opened(order)
    sms.outbox.clear()
    with transaction.atomic():
        notification = dunning_message_send(
            case=case, template_key="reminder", channel="sms", key="test:sms:again",
            now=case.opened_at,
        )  # fmt: skip
        consent_withdraw(lead=order.lead, purpose="sms", context=capture_context())
    notification.refresh_from_db()
    assert sms.outbox == []
    assert notification.status == "failed"
    assert notification.last_error == "not sent: no SMS consent in the ledger"


def test_email_has_html_and_text_and_the_copy_is_edited_per_language(localstripe, client):
    DunningMessageTemplate.objects.filter(key="first_notice", language="de").update(
        subject="Kurz zu Ihrer Zahlung für {{ offer_name }}"
    )
    german, _ = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", country="DE"
    )
    english, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case_opened(german)
    case_opened(english)
    by_to = {m.to[0]: m for m in mail.outbox}
    de, en = by_to[german.email], by_to[english.email]
    assert de.subject == f"Kurz zu Ihrer Zahlung für {german.offer.name}"
    assert en.subject == f"Your payment for {english.offer.name} did not go through"
    for message in (de, en):
        html = message.alternatives[0][0]
        assert message.alternatives[0][1] == "text/html" and "<a href=" in html
        assert "/pay/" in message.body and "support@example.com" in message.body
    assert "nicht genug Guthaben" in de.body and "not enough money" in en.body
    assert list(
        Notification.objects.filter(order=german).values_list("language", "channel", "kind")
    ) == [("de", "email", "payment_reminder")]


def test_a_bounce_is_visible_on_the_case(localstripe, client, settings, admin_client):
    settings.EMAIL_BACKEND = "tests.dunning.test_messages.BouncingBackend"
    order, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case = case_opened(order)
    notification = Notification.objects.get(order=order)
    assert notification.status == "pending" and "no such mailbox" in notification.last_error
    page = admin_client.get(f"/admin/dunning/dunningcase/{case.pk}/change/").content.decode()
    assert "Problem (bounce or failure)" in page and "no such mailbox" in page


def test_the_admin_previews_a_template_with_a_made_up_order(admin_client):
    template = DunningMessageTemplate.objects.get(key="reminder", language="de")
    page = admin_client.get(f"/admin/dunning/dunningmessagetemplate/{template.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Eine Erinnerung an Ihre Zahlung für Masterclass" in html
    assert "120,00" in html and "CO-PREVIEW" in html
    preview = admin_client.get(f"/admin/dunning/dunningmessagetemplate/{template.pk}/preview/")
    assert (
        preview.status_code == 200 and b"https://example.com/pay/preview-token/" in preview.content
    )
    assert preview["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
    )
    # A template with a mistake shows the mistake, not a crash.
    template.subject = "{% if %}"
    template.save()
    broken = admin_client.get(f"/admin/dunning/dunningmessagetemplate/{template.pk}/change/")
    assert broken.status_code == 200 and "does not render" in broken.content.decode()


def test_every_default_template_exists_in_english_and_german_and_is_kind(admin_client):
    from dunning.admin import template_preview
    from dunning.models import TemplateKey

    for key in TemplateKey.values:
        for language in ("en", "de"):
            template = DunningMessageTemplate.objects.get(key=key, language=language)
            subject, text, html, _sms = template_preview(template)
            assert subject and text and html, (key, language)
            lowered = f"{subject} {text}".lower()
            for alarm in ("urgent", "immediately", "final warning", "debt collect", "dringend",
                          "sofort", "inkasso"):  # fmt: skip
                assert alarm not in lowered, (key, language, alarm)
            assert "support@example.com" in text, (key, language)
