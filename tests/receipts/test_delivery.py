"""Delivery through the one message log: the receipt goes with the payment-confirmed email (one
email, HTML and text, PDF attached), waits for it, follows on its own when it missed it, and its
delivery (sent, failed with retries, bounced) is tracked and visible to finance."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from checkout.models import Notification, NotificationEvent
from checkout.notifications import (
    MAX_SEND_ATTEMPTS,
    notification_send,
    notifications_redrive,
)
from receipts.delivery import documents_follow_up
from receipts.models import CreditNote, Receipt, ReceiptEvent
from receipts.selectors import document_delivery_summary
from receipts.services.sweep import receipts_sweep
from tests.receipts.factories import paid_order, refund_succeeded
from tests.receipts.pdfs import pdf_text, stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)

_N = Notification.Kind


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("SMTP down")


def _pdf_attachments(message):
    return [(name, content, kind) for name, content, kind in message.attachments]


def test_the_confirmation_email_carries_the_receipt_pdf(celery_eager):
    order, payment = paid_order(email="ada@example.com")
    receipt = Receipt.objects.get(payment=payment)

    (message,) = mail.outbox  # one email about the payment, not two
    assert message.to == ["ada@example.com"]
    assert message.subject.startswith("Payment received")
    ((name, content, kind),) = _pdf_attachments(message)
    assert (name, kind) == (f"{receipt.number}.pdf", "application/pdf")
    assert content == stored_pdf(receipt)
    assert receipt.number in pdf_text(content)
    html = message.alternatives[0][0]
    assert f"ATTACHED: Receipt {receipt.number} (PDF)" in message.body
    assert f"<strong>Receipt {receipt.number}</strong>" in html

    notification = Notification.objects.get(order=order, kind=_N.PAYMENT_CONFIRMED)
    assert notification.status == Notification.Status.SENT
    assert notification.attachments == [
        {"document": f"receipt:{receipt.pk}", "filename": f"{receipt.number}.pdf",
         "content_type": "application/pdf", "sha256": receipt.pdf_sha256,
         "size": len(content)},
    ]  # fmt: skip
    assert notification.message_id.startswith("<") and message.extra_headers["Message-ID"] == (
        notification.message_id
    )
    receipt.refresh_from_db()
    assert receipt.delivered_by == notification
    assert ReceiptEvent.objects.filter(receipt=receipt, cause="delivered").count() == 1
    assert document_delivery_summary(receipt).startswith("Sent to ada@example.com")
    assert Notification.objects.filter(order=order).count() == 1


def test_the_email_waits_for_its_receipt_then_goes_without_it_and_the_receipt_follows(
    settings, celery_eager
):
    settings.STORAGES = {
        **settings.STORAGES,
        "broken": {"BACKEND": "tests.receipts.test_delivery.FullDisk"},
    }
    settings.RECEIPTS_STORAGE = "broken"
    order, payment = paid_order()
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.status == Receipt.Status.ISSUED and "disk full" in receipt.last_error
    confirmation = Notification.objects.get(order=order, kind=_N.PAYMENT_CONFIRMED)
    assert confirmation.status == Notification.Status.PENDING  # waiting for the receipt
    assert mail.outbox == []

    # Past the wait, the sweeper sends it without the receipt and says it will follow.
    Notification.objects.filter(pk=confirmation.pk).update(
        created_at=timezone.now()
        - timedelta(seconds=settings.NOTIFICATION_ATTACHMENT_WAIT_SECONDS + 60)
    )
    assert notifications_redrive() == 1
    (first,) = mail.outbox
    assert first.attachments == [] and "Your receipt will follow" in first.body

    # The storage works again: the sweeper renders the receipt; no email carried it, so after
    # the grace period it goes in an email of its own, with the PDF.
    settings.RECEIPTS_STORAGE = "default"
    receipts_sweep(
        now=timezone.now() + timedelta(seconds=settings.RECEIPTS_RENDER_RETRY_SECONDS * 3)
    )
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.STORED
    assert documents_follow_up() == 0  # within the grace period
    later = timezone.now() + timedelta(seconds=settings.RECEIPTS_DELIVERY_GRACE_SECONDS + 60)
    assert documents_follow_up(now=later) == 1
    assert documents_follow_up(now=later) == 0  # once

    assert len(mail.outbox) == 2
    second = mail.outbox[1]
    assert second.subject.startswith("Your receipt for")
    assert [a[0] for a in second.attachments] == [f"{receipt.number}.pdf"]
    receipt.refresh_from_db()
    assert receipt.delivered_by.kind == _N.RECEIPT


class FullDisk:
    def __init__(self, **kwargs):
        pass

    def save(self, name, content, max_length=None):
        raise OSError("disk full")


def test_a_refund_email_carries_its_credit_note(celery_eager):
    _, payment = paid_order()
    mail.outbox.clear()
    refund_succeeded(payment, 4_000)
    note = CreditNote.objects.get()

    (message,) = mail.outbox
    assert "refund" in message.subject.lower()
    assert [a[0] for a in message.attachments] == [f"{note.number}.pdf"]
    note.refresh_from_db()
    assert note.delivered_by.kind == _N.REFUND_ISSUED


def test_failed_sends_retry_with_backoff_then_fail_visibly(settings, celery_eager):
    settings.EMAIL_BACKEND = "tests.receipts.test_delivery.BrokenBackend"
    order, payment = paid_order()
    receipt = Receipt.objects.get(payment=payment)
    notification = Notification.objects.get(order=order, kind=_N.PAYMENT_CONFIRMED)
    assert notification.attempts == 1 and notification.status == Notification.Status.PENDING

    # Not due again before its backoff, whoever asks.
    notification_send(notification_id=notification.pk)
    assert Notification.objects.get(pk=notification.pk).attempts == 1
    created = notification.created_at
    for attempts, minutes in ((1, 6), (2, 21), (3, 61), (4, 181)):
        Notification.objects.filter(pk=notification.pk).update(
            created_at=created - timedelta(minutes=minutes)
        )
        assert notifications_redrive() == 1, attempts
        assert notifications_redrive() == 0 or attempts == MAX_SEND_ATTEMPTS
    notification.refresh_from_db()
    assert notification.attempts == MAX_SEND_ATTEMPTS
    assert notification.status == Notification.Status.FAILED
    assert "SMTP down" in notification.last_error
    causes = list(notification.events.values_list("cause", "to_status"))
    assert causes[-1] == ("send_failed", "failed")
    assert len(causes) == MAX_SEND_ATTEMPTS
    assert document_delivery_summary(receipt).startswith("Failed (payment confirmed), 5 attempt(s)")


def test_a_bounce_is_recorded_by_message_id_on_the_email_and_the_receipt(
    client, settings, celery_eager
):
    settings.EMAIL_BOUNCE_WEBHOOK_SECRET = "bounce-secret"
    _, payment = paid_order(email="gone@example.com")
    receipt = Receipt.objects.get(payment=payment)
    notification = receipt.delivered_by

    refused = client.post(
        "/webhooks/email/bounce/", json.dumps({"message_id": notification.message_id}),
        content_type="application/json", HTTP_X_BOUNCE_SECRET="wrong",
    )  # fmt: skip
    assert refused.status_code == 403
    response = client.post(
        "/webhooks/email/bounce/",
        json.dumps({"message_id": notification.message_id, "reason": "550 mailbox unknown"}),
        content_type="application/json",
        HTTP_X_BOUNCE_SECRET="bounce-secret",
    )
    assert response.status_code == 200 and response.json() == {"recorded": True}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.BOUNCED and notification.bounced_at
    assert NotificationEvent.objects.filter(
        notification=notification, cause="bounce_webhook"
    ).exists()
    event = ReceiptEvent.objects.get(receipt=receipt, cause="delivery_bounced")
    assert "550 mailbox unknown" in event.detail["reason"]
    assert document_delivery_summary(receipt).startswith("Bounced to gone@example.com")
    # An unknown message id records nothing.
    unknown = client.post(
        "/webhooks/email/bounce/", json.dumps({"message_id": "<nope@example.com>"}),
        content_type="application/json", HTTP_X_BOUNCE_SECRET="bounce-secret",
    )  # fmt: skip
    assert unknown.json() == {"recorded": False}


def test_the_anymail_tracking_hook_records_a_bounce(celery_eager):
    from types import SimpleNamespace

    from checkout.notifications.bounces import anymail_tracking_receiver

    _, payment = paid_order()
    notification = Receipt.objects.get(payment=payment).delivered_by
    event = SimpleNamespace(
        event_type="bounced", message_id=notification.message_id, description="hard bounce",
        event_id="ev_1",
    )  # fmt: skip
    anymail_tracking_receiver(sender=None, event=event, esp_name="Postmark")
    notification.refresh_from_db()
    assert notification.status == Notification.Status.BOUNCED
    assert notification.events.last().cause == "bounce_anymail_postmark"
