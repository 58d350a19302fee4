"""Decline-aware retries: hard declines never, customer action waits for the buyer, unknown codes
get the lower cap, the per-card cap across cases, payday, and quiet hours in the buyer's own
timezone across DST, on cases opened through the real services."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import override_settings

from dunning.models import DunningAttempt, DunningCase, DunningPolicy
from dunning.services import ActionRefused, dunning_case_open, dunning_case_retry_now, dunning_tick
from dunning.services.attempts import attempt_create
from payments.models import Payment
from payments.services.charge import customer_card_save
from tests.checkout.cards import card_payment_method
from tests.checkout.factories import OfferFactory
from tests.dunning.factories import (
    THREE_DS,
    case_opened,
    checkout_declined,
    checkout_declined_by_webhook,
    next_weekday_at,
    run_until_settled,
)
from tests.leads.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _sales_user():
    from django.contrib.auth.models import Group

    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    return user


def test_a_hard_decline_is_never_retried_through_the_whole_policy(localstripe, client):
    order, payment = checkout_declined_by_webhook(client, decline_code="stolen_card")
    assert (payment.status, payment.decline_code) == ("failed", "stolen_card")
    case = case_opened(order)
    assert (case.category, case.status) == ("hard", "awaiting_customer")

    run_until_settled(case, start=case.opened_at)

    case.refresh_from_db()
    assert not DunningAttempt.objects.exists()
    skipped = list(case.events.filter(cause="retry_skipped").values_list("detail", flat=True))
    assert len(skipped) == 6  # every retry step of the policy, refused
    assert all("stolen_card" in d["reason"] and "another payment method" in d["reason"]
               for d in skipped)  # fmt: skip
    assert case.status == "canceled"  # the policy's last step
    bodies = [m.body for m in mail.outbox]
    assert len(bodies) == 4 and all("reported lost or stolen" in b for b in bodies)
    assert all("another card or by bank transfer" in b for b in bodies)


def test_staff_retry_now_refuses_a_hard_decline_and_says_why(localstripe, client):
    order, _ = checkout_declined_by_webhook(client, decline_code="lost_card")
    case = case_opened(order)
    with pytest.raises(ActionRefused, match=r"Hard decline \(lost_card\).*another payment method"):
        dunning_case_retry_now(case_id=case.pk, actor=_sales_user())
    assert not DunningAttempt.objects.exists()
    assert case.events.filter(cause="retry_now_refused").exists()


def test_customer_action_waits_for_the_buyer_without_blind_retries(localstripe, client):
    order, _ = checkout_declined_by_webhook(client, decline_code="", failure_code="expired_card")
    case = case_opened(order)
    assert (case.category, case.status) == ("customer_action", "awaiting_customer")
    run_until_settled(case, start=case.opened_at)
    assert not DunningAttempt.objects.exists()
    assert "has expired" in mail.outbox[0].body and "add your new card" in mail.outbox[0].body


def test_an_unknown_code_is_soft_with_the_lower_retry_cap(localstripe, client):
    order, _ = checkout_declined_by_webhook(client, decline_code="a_code_from_2027")
    case = case_opened(order)
    assert (case.category, case.code_known, case.status) == ("soft", False, "retry_scheduled")
    run_until_settled(case, start=case.opened_at)
    # The saved card is not one localstripe knows, so each retry is refused with an unknown
    # code too: the lower cap (2) holds for the whole case.
    assert DunningAttempt.objects.filter(case=case).count() == 2
    reasons = case.events.filter(cause="retry_skipped").values_list("detail__reason", flat=True)
    assert list(reasons) == ["The policy's 2 retries are used up."] * 4


def test_a_card_is_retried_at_most_15_times_in_30_days_across_cases(localstripe, client, settings):
    order, payment = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case = case_opened(order)
    others = []
    for _ in range(3):
        other_order, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
        others.append(case_opened(other_order))
    now = case.opened_at + timedelta(days=1)
    for n, other in enumerate(others * 5):  # 15 attempts of the same card on other cases
        attempt_create(
            case=other,
            step=None,
            customer=case.customer,
            card=payment.payment_method_id,
            now=now - timedelta(days=29) + timedelta(hours=n),
        )
    case.refresh_from_db()
    next_retry = case.next_action_at
    dunning_tick(now=next_retry, discover=False)
    assert not case.attempts.exists()
    reason = case.events.get(cause="retry_skipped").detail["reason"]
    assert reason == "This card was already retried 15 times in 30 days (across all cases)."
    # 30 days after the oldest of them, the card may be retried again.
    assert DunningAttempt.objects.filter(payment_method_id=payment.payment_method_id).count() == 15


def test_an_off_session_retry_that_needs_authentication_sends_the_link(localstripe):
    order, _payment = checkout_declined()
    case = case_opened(order)
    # The buyer saved a card whose bank wants 3DS for every payment (in the portal, say).
    customer_card_save(customer=order.customer, payment_method_id=card_payment_method(THREE_DS))
    case.refresh_from_db()
    dunning_tick(now=case.next_action_at, discover=False)  # day 1: the retry

    case.refresh_from_db()
    attempt = case.attempts.get()
    # Off-session, Stripe declines a charge the bank wants authenticated.
    assert attempt.status == "failed"
    assert Payment.objects.get(idempotency_key=attempt.idempotency_key).decline_code == (
        "authentication_required"
    )
    assert (case.category, case.decline_code, case.status) == (
        "customer_action", "authentication_required", "awaiting_customer",
    )  # fmt: skip
    last = mail.outbox[-1]
    assert last.subject == f"Your bank would like you to confirm a payment for {order.offer.name}"
    assert "/pay/" in last.body and "Nothing has been charged yet" in last.body
    # No more blind retries of that card.
    run_until_settled(case, start=case.next_action_at)
    assert case.attempts.count() == 1


def test_insufficient_funds_waits_for_payday(localstripe, client):
    offer = OfferFactory()
    DunningPolicy.objects.filter(is_default=True).update(payday_mode="first_and_fifteenth")
    order, payment = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", offer=offer, country="DE"
    )
    failed_at = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
    case = dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=failed_at, payment_id=payment.pk,
        now=failed_at + timedelta(minutes=30),
    )  # fmt: skip
    dunning_tick(now=case.next_action_at, discover=False)  # the first email
    case.refresh_from_db()
    assert case.next_step == 1
    # Day 1's retry moves to the 15th, at the end of quiet hours in Berlin.
    assert case.next_action_at == datetime(2027, 3, 15, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    ("country", "expected_local_hour", "unchanged"),
    [("US", None, True), ("DE", 8, False), ("AU", 8, False)],
)
def test_quiet_hours_in_the_buyers_own_timezone(localstripe, client, country, expected_local_hour,
                                                unchanged):  # fmt: skip
    order, payment = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", country=country
    )
    # The first retry (a day after the failure) falls at 20:00 UTC: evening in Berlin, afternoon
    # in New York, early morning in Sydney.
    base = next_weekday_at(2, 20, 0, "UTC")
    failed_at = base - timedelta(days=1)
    case = dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=failed_at, payment_id=payment.pk,
        now=failed_at + timedelta(minutes=30),
    )  # fmt: skip
    dunning_tick(now=case.next_action_at, discover=False)
    case.refresh_from_db()
    assert case.next_step == 1
    local = case.next_action_at.astimezone(ZoneInfo(case.timezone))
    if unchanged:
        assert case.next_action_at == base
    else:
        assert case.next_action_at > base
        assert (local.hour, local.minute) == (expected_local_hour, 0)
        assert case.next_action_at - base < timedelta(hours=13)


def test_dst_the_retry_a_day_later_is_24_hours_later_and_the_window_ends_in_local_time(
    localstripe, client
):
    berlin = ZoneInfo("Europe/Berlin")
    order, payment = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", country="DE"
    )
    # 07:30 CET on Saturday 28 March 2026; the clocks go forward that night.
    failed_at = datetime(2026, 3, 28, 7, 30, tzinfo=berlin)
    case = dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=failed_at, payment_id=payment.pk,
        now=failed_at + timedelta(minutes=30),
    )  # fmt: skip
    dunning_tick(now=case.next_action_at, discover=False)
    case.refresh_from_db()
    # 24 hours later is 08:30 CEST: outside quiet hours, so it stays (a naive "same wall time
    # tomorrow" would say 07:30, inside them).
    assert case.next_action_at == failed_at.astimezone(UTC) + timedelta(hours=24)
    assert case.next_action_at.astimezone(berlin).hour == 8

    other, other_payment = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", country="DE"
    )
    # 01:30 CET: the retry a day later is 01:30 CET on the night of the change, inside the
    # maintenance window and quiet hours: it waits for 08:00 CEST, which is 06:00 UTC.
    failed_at = datetime(2026, 3, 28, 1, 30, tzinfo=berlin)
    late = dunning_case_open(
        order_id=other.pk, cause="checkout", failed_at=failed_at, payment_id=other_payment.pk,
        now=failed_at + timedelta(minutes=30),
    )  # fmt: skip
    dunning_tick(now=late.next_action_at, discover=False)
    late.refresh_from_db()
    assert late.next_step == 1
    assert late.next_action_at == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


@override_settings(DUNNING_CHECKOUT_GRACE_MINUTES=30)
def test_the_first_email_after_a_checkout_failure_ignores_quiet_hours_but_a_renewals_does_not(
    localstripe, client
):
    order, payment = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    night = next_weekday_at(1, 23, 15, "Europe/London")
    case = dunning_case_open(
        order_id=order.pk, cause="checkout", failed_at=night, payment_id=payment.pk,
        now=night + timedelta(minutes=30),
    )  # fmt: skip
    assert case.next_action_at == night + timedelta(minutes=30)  # at once: the buyer was there
    dunning_tick(now=case.next_action_at, discover=False)
    assert len(mail.outbox) == 1

    renewal_case = dunning_case_open(
        order_id=checkout_declined_by_webhook(client, decline_code="insufficient_funds")[0].pk,
        cause="renewal", failed_at=night, now=night,
    )  # fmt: skip
    local = renewal_case.next_action_at.astimezone(ZoneInfo("Europe/London"))
    assert (local.hour, local.minute) == (8, 0) and renewal_case.next_action_at > night
    assert isinstance(renewal_case, DunningCase)
