"""Time travel through the whole default policy, against localstripe: every retry a new
PaymentIntent charged off-session with the saved card, at allowed hours, then the order ends."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from checkout.models import Notification, Order
from dunning.models import DunningCase, DunningCaseEvent
from dunning.services import dunning_case_open
from payments import gateway
from payments.models import Payment
from tests.dunning.factories import checkout_declined, next_weekday_at, run_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

LONDON = ZoneInfo("Europe/London")


def test_a_declined_checkout_goes_through_the_whole_default_policy(localstripe, celery_eager):
    order, payment = checkout_declined()  # card 0341: attaches, then declined every time
    # The buyer left the page on a Monday at 22:40 London time.
    failed_at = next_weekday_at(0, 22, 40, "Europe/London")
    opened_at = failed_at + timedelta(minutes=30)
    case = dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=failed_at, payment_id=payment.pk,
        now=opened_at,
    )  # fmt: skip
    assert (case.status, case.category, case.timezone) == (
        "retry_scheduled",
        "soft",
        "Europe/London",
    )
    # The first message after a checkout failure goes at once, quiet hours or not.
    assert case.next_step == 0 and case.next_action_at == opened_at

    moments = run_until_settled(case, start=opened_at)

    case.refresh_from_db()
    order.refresh_from_db()
    assert case.status == DunningCase.Status.CANCELED
    assert order.status == Order.Status.CANCELED
    assert moments[-1] >= failed_at + timedelta(days=14)

    attempts = list(case.attempts.order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4, 5, 6]  # the policy's 6 retries
    assert {a.status for a in attempts} == {"failed"}
    for attempt in attempts:
        local = attempt.created_at.astimezone(LONDON)
        assert 8 <= local.hour < 21, local  # never in quiet hours or the maintenance window
        assert attempt.payment.idempotency_key == f"dunning:case:{case.pk}:attempt:{attempt.number}"
        assert attempt.payment.attempt_kind == Payment.AttemptKind.RETRY
        assert attempt.payment.payment_method_id == payment.payment_method_id  # the saved card
    # Day 1's retry at 22:40 falls in quiet hours and waits for 08:00.
    assert attempts[0].created_at.astimezone(LONDON).hour == 8

    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("dunning_case") == str(case.pk)
    ]  # fmt: skip
    assert len(intents) == 6  # one PaymentIntent per retry, never a confirm of an old one
    # A declined off-session create raises, so our row keeps no intent id: the intent names it.
    assert {r.metadata["payment_id"] for r in intents} == {str(a.payment_id) for a in attempts}

    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Your payment for {order.offer.name} did not go through",
        f"A reminder about your payment for {order.offer.name}",
        f"Still open: your payment for {order.offer.name}",
        f"Your order for {order.offer.name}: the last reminder",
    ]
    links = {re.search(r"/pay/([\w-]+)/", m.body).group(1) for m in mail.outbox}
    assert len(links) == 4 and case.links.count() == 4  # a fresh link in every message
    for message in mail.outbox:
        assert message.to == [order.email]
        assert message.alternatives and "support@example.com" in message.body
    # No phone on file: the text message step is recorded, not sent.
    assert case.events.filter(cause="sms_not_sent").count() == 1
    assert not Notification.objects.filter(kind="payment_failed").exists()

    statuses = list(
        case.events.filter(outcome=DunningCaseEvent.Outcome.APPLIED).values_list(
            "to_status", flat=True
        )
    )
    assert statuses == ["open", "retry_scheduled", "escalated", "canceled"]
    assert case.events.filter(cause="policy_cancel", to_status="canceled").exists()
