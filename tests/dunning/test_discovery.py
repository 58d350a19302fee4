"""Work no news announced: lost signals, portal payments closing cases, card-expiry reminders."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from dunning.models import DunningCase, DunningTrigger
from dunning.services import dunning_discover, dunning_tick
from payments.models import Payment
from payments.services.transitions import payment_transition
from tests.dunning.factories import (
    after_grace,
    case_opened,
    checkout_declined_by_webhook,
    subscribed,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_a_failure_whose_news_was_lost_is_found_again(client, localstripe):
    order, payment = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    DunningTrigger.objects.all().delete()  # as if the broker had been down when it was sent
    found = dunning_discover(now=timezone.now())
    assert found["failures"] == 1
    trigger = DunningTrigger.objects.get()
    assert (trigger.order_id, trigger.kind, trigger.payment_id) == (
        order.pk, "checkout_failed", payment.pk,
    )  # fmt: skip
    dunning_tick(now=after_grace(), discover=False)
    assert DunningCase.objects.get().order_id == order.pk
    assert dunning_discover(now=timezone.now())["failures"] == 0  # nothing left to find


def test_a_payment_from_the_portal_closes_the_case_as_recovered_through_the_portal(
    client, localstripe
):
    order, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case = case_opened(order)
    balance = Payment.objects.create(
        order=order, customer=order.customer, idempotency_key=f"order:{order.pk}:balance:1",
        amount=order.amount_due_now, currency="eur", attempt_kind="balance",
    )  # fmt: skip
    # Money without a PaymentIntent (Radar has nothing to say), news as from a webhook.
    payment_transition(payment_id=balance.pk, to_status="succeeded", cause="webhook",
                       fields={"amount_received": balance.amount})  # fmt: skip
    case.refresh_from_db()
    assert (case.status, case.recovered_channel, case.amount_recovered) == (
        "recovered", "portal", order.amount_due_now,
    )  # fmt: skip
    assert case.next_action_at is None


def test_the_card_expiry_reminder_is_off_by_default_and_sent_once_when_on(localstripe, settings):
    from checkout.models import Subscription

    subscription = subscribed()
    now = timezone.now()
    # The card expires at the end of the month ten days from now; the next renewal is later.
    expiring = now + timedelta(days=10)
    customer = subscription.customer
    customer.card_exp_year, customer.card_exp_month = expiring.year, expiring.month
    customer.save()
    Subscription.objects.filter(pk=subscription.pk).update(next_charge_at=now + timedelta(days=60))
    mail.outbox.clear()

    assert dunning_discover(now=now)["card_expiry"] == 0  # off by default
    settings.DUNNING_CARD_EXPIRY_REMINDER_DAYS = 45
    assert dunning_discover(now=now)["card_expiry"] == 1
    assert dunning_discover(now=now + timedelta(hours=1))["card_expiry"] == 0  # once
    (message,) = mail.outbox
    assert message.subject == f"Your card for {subscription.order.offer.name} expires soon"
    assert customer.card_last4 in message.body and "/account/" in message.body
