from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from checkout.models import Notification
from checkout.notifications import (
    failure_advice,
    notification_schedule,
    notification_send,
    notifications_redrive,
)
from config.money import money_format
from tests.checkout.factories import OfferFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)

_N = Notification.Kind


def test_money_is_formatted_by_the_currencys_own_decimals():
    assert money_format(12_345, "eur") == "€123.45"
    assert money_format(500, "JPY") == "¥500"  # no decimals: the currency sets them
    assert money_format(1_234, "kwd") == "KWD1.234"


def test_a_notification_is_sent_once_however_often_it_is_scheduled(celery_eager):
    order = OrderFactory()
    for _ in range(3):
        notification_schedule(
            order=order, kind=_N.PAYMENT_CONFIRMED, context={"payment_amount": order.total}
        )
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    sent = Notification.objects.get()
    assert sent.status == Notification.Status.SENT and sent.sent_at is not None
    notification_send(notification_id=sent.pk)
    assert len(mail.outbox) == 1


def test_every_kind_says_what_happened_what_to_do_and_where_to_get_help(celery_eager):
    order = OrderFactory(name="Ada <script>alert(1)</script>")
    for kind in _N.values:
        notification_schedule(
            order=order,
            kind=kind,
            context={"payment_amount": 5_000, "balance": 7_000, "discrepancy_amount": 3_000,
                     "refund_amount": 2_000, "currency": "eur", "decline_code": "stolen_card"},
        )  # fmt: skip
    assert len(mail.outbox) == len(_N.values)
    for message in mail.outbox:
        html = message.alternatives[0][0]
        assert "support@example.com" in message.body and "support@example.com" in html
        assert "/account/" in message.body
        assert "What happens next" in html and "WHAT HAPPENS NEXT" in message.body
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "\n" not in message.subject
        assert message.reply_to == ["support@example.com"]
    failed = next(m for m in mail.outbox if "did not go through" in m.subject)
    assert "reported stolen" in failed.body and "another card" in failed.body


def test_a_failed_send_stays_pending_and_the_sweeper_sends_it(settings, celery_eager):
    order = OrderFactory(offer=OfferFactory())
    settings.EMAIL_BACKEND = "tests.checkout.test_notifications.BrokenBackend"
    notification, _ = notification_schedule(order=order, kind=_N.PAYMENT_CONFIRMED)
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1 and "SMTP down" in notification.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    assert notifications_redrive() == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert len(mail.outbox) == 1


def test_decline_codes_have_plain_words_and_unknown_ones_a_safe_default():
    assert (
        "not enough money"
        in failure_advice(
            decline_code="insufficient_funds", failure_code="card_declined"
        ).what_happened
    )
    assert (
        "did not tell us why"
        in failure_advice(decline_code="", failure_code="card_declined").what_happened
    )
    assert "not charged" in failure_advice(decline_code="", failure_code="weird").what_happened


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("SMTP down")
