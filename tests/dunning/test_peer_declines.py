"""Retries end to end against the Stripe peer's decline codes: a saved card that starts
declining later (a renewal), charged off-session by each retry exactly as Stripe would answer."""

from datetime import timedelta

import pytest

from checkout.models import Order, Subscription
from checkout.services.subscriptions import subscription_renew
from dunning.models import DunningAttempt, DunningCase
from dunning.services import dunning_tick
from tests.dunning.factories import run_until_settled, subscribed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _renewal_declined(localstripe, decline_code: str) -> tuple[Subscription, DunningCase]:
    subscription = subscribed()
    localstripe.decline_later(subscription.payment_method_id, decline_code)
    due = subscription.next_charge_at
    renewal = subscription_renew(subscription_id=subscription.pk, now=due + timedelta(minutes=1))
    assert (renewal.status, renewal.decline_code) == ("failed", decline_code)
    dunning_tick(now=due + timedelta(minutes=2), discover=False)
    return subscription, DunningCase.objects.get(order_id=renewal.order_id)


def test_a_saved_card_reported_stolen_is_never_charged_again(localstripe):
    subscription, case = _renewal_declined(localstripe, "stolen_card")
    assert (case.cause, case.category, case.decline_code) == ("renewal", "hard", "stolen_card")

    run_until_settled(case, start=case.opened_at)

    assert not DunningAttempt.objects.exists()  # not one retry of that card
    case.refresh_from_db()
    assert case.events.filter(cause="retry_skipped").exists()
    # The policy's last step cancels the subscription rather than keep a stolen card on it.
    subscription.refresh_from_db()
    assert (case.status, subscription.status) == ("canceled", Subscription.Status.CANCELED)


def test_insufficient_funds_is_retried_off_session_until_the_bank_says_yes(localstripe):
    subscription, case = _renewal_declined(localstripe, "insufficient_funds")
    assert (case.category, case.status) == ("soft", "retry_scheduled")

    # The first retry: Stripe declines again, with the same code.
    while not case.attempts.exists():
        dunning_tick(now=case.next_action_at, discover=False)
        case.refresh_from_db()
    first = case.attempts.get()
    assert first.status == "failed"
    assert case.decline_code == "insufficient_funds" and case.status == "retry_scheduled"

    # Money arrives; the next retry of the same saved card goes through.
    localstripe.decline_stop(subscription.payment_method_id)
    while case.status == "retry_scheduled" and case.attempts.count() == 1:
        dunning_tick(now=case.next_action_at, discover=False)
        case.refresh_from_db()

    assert (case.status, case.recovered_channel) == ("recovered", "retry")
    second = case.attempts.order_by("number").last()
    assert (second.number, second.status) == (2, "succeeded")
    assert second.payment_method_id == first.payment_method_id == subscription.payment_method_id
    assert Order.objects.get(pk=case.order_id).status == "paid"
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
