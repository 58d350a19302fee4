"""A hold that Stripe cancels by itself (the authorisation expired after about 7 days, or someone
canceled it in the Dashboard) no longer secures the access it granted at authorisation.

End to end: real intents at localstripe, the `payment_intent.canceled` event signed as Stripe
signs it and posted to the real endpoint (localstripe never sends that event), the inbox, the
payments handler, the `payment_canceled` signal and checkout's task (eagerly), the real DB."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from checkout.models import Entitlement, EntitlementEvent, Notification, Order, OrderEvent
from checkout.portal.links import portal_token_make
from checkout.portal.selectors import portal_order_rows
from checkout.services.accounting import order_payment_record
from checkout.services.orders import order_create
from payments import gateway
from payments.models import Payment, WebhookEvent
from payments.services.reconciliation import payments_reconcile
from tests.checkout.cards import ELEVATED_RISK, VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.lossy_stripe import answers_lost
from tests.stripe_helpers import deliver_event, intent_at_localstripe, stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]

_N = Notification.Kind


def _hold(card: str = VISA) -> Payment:
    order = order_create(
        offer=OfferFactory(billing_type="hold", price_amount=30_000),
        checkout_token=uuid.uuid4(),
        email="hal@example.com",
        name="Hal",
        billing_country="GB",
    )
    outcome = checkout_pay_with(order, card, ip=None)
    assert outcome.status == Payment.Status.AUTHORIZED
    return outcome.payment


def _stripe_cancels(localstripe, payment: Payment) -> dict:
    """What Stripe does when an uncaptured authorisation expires: the intent is canceled at
    Stripe, with nothing asked of us. Returns the intent as Stripe now shows it."""
    gateway.payment_intent_cancel(
        payment.stripe_payment_intent_id, idempotency_key=uuid.uuid4().hex
    )
    intent = _intent_at_stripe(localstripe, payment)
    assert intent["status"] == "canceled"
    return intent


def _intent_at_stripe(localstripe, payment: Payment) -> dict:
    return intent_at_localstripe(localstripe, payment.stripe_payment_intent_id)


def _deliver(client, settings, event: dict) -> None:
    assert deliver_event(client, event, settings.STRIPE_WEBHOOK_SECRET).status_code == 200


def _kinds(order_id: int) -> list[str]:
    return sorted(Notification.objects.filter(order_id=order_id).values_list("kind", flat=True))


def _snapshot(order_id: int) -> tuple:
    return (
        Order.objects.filter(pk=order_id).values_list("status", "balance").get(),
        Entitlement.objects.get(order_id=order_id).status,
        EntitlementEvent.objects.filter(entitlement__order_id=order_id).count(),
        OrderEvent.objects.filter(order_id=order_id).count(),
        _kinds(order_id),
        len(mail.outbox),
    )


def test_a_hold_stripe_lets_lapse_pauses_access_until_the_buyer_pays(localstripe, client, settings):
    hold = _hold()
    order_id = hold.order_id
    entitlement = Entitlement.objects.get(order_id=order_id)
    assert entitlement.status == Entitlement.Status.ACTIVE  # granted at authorisation
    mail.outbox.clear()

    event = stripe_event("payment_intent.canceled", _stripe_cancels(localstripe, hold))
    _deliver(client, settings, event)

    hold.refresh_from_db()
    assert hold.status == Payment.Status.CANCELED
    assert WebhookEvent.objects.get(stripe_event_id=event["id"]).status == "processed"
    # Nothing secures the access any more: paused (not ended), and the cause is on record.
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.SUSPENDED and entitlement.suspended_at
    suspension = entitlement.events.get(to_status=Entitlement.Status.SUSPENDED)
    assert (suspension.cause, suspension.payment_id) == ("hold_lapsed", hold.pk)
    order = Order.objects.get(pk=order_id)
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert (order.amount_authorized, order.balance) == (0, order.total)
    assert order.events.filter(cause="hold_lapsed", detail__payment=hold.pk).count() == 1
    # The buyer is told once, plainly, how to keep the access.
    lapsed = Notification.objects.get(order_id=order_id, kind=_N.HOLD_LAPSED)
    assert lapsed.payment_id == hold.pk and lapsed.status == Notification.Status.SENT
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "reservation on your card" in message.subject
    assert "nothing was charged" in message.body and "access is paused" in message.body
    assert "/account/" in message.body and '"Pay" button' in message.body
    assert entitlement.access_code not in message.body  # no access details while paused
    (row,) = portal_order_rows(email=order.email)
    assert "reservation on your card ended" in row.access_words and row.can_pay_balance

    # The same news again (Stripe's retry, or our task run twice) changes nothing.
    before = _snapshot(order_id)
    _deliver(client, settings, event)
    order_payment_record(payment_id=hold.pk)
    assert _snapshot(order_id) == before

    # The buyer follows the email: pays the order in full from the portal with the saved card.
    response = client.post(
        f"/account/{portal_token_make(email=order.email)}/orders/{order.reference}/pay/"
    )
    assert response.status_code == 302
    paid = Payment.objects.filter(order_id=order_id).exclude(pk=hold.pk).get()
    assert paid.status == Payment.Status.SUCCEEDED and paid.amount == order.total

    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.balance == 0
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.ACTIVE and entitlement.suspended_at is None
    restored = entitlement.events.order_by("-created_at", "-pk").first()
    assert (restored.from_status, restored.cause, restored.payment_id) == (
        Entitlement.Status.SUSPENDED,
        "payment_covered",
        paid.pk,
    )
    confirmed = Notification.objects.get(order_id=order_id, kind=_N.PAYMENT_CONFIRMED)
    assert confirmed.payment_id == paid.pk and confirmed.status == Notification.Status.SENT
    assert entitlement.access_code in mail.outbox[-1].body  # the same access, given back
    assert _kinds(order_id) == sorted([_N.PAYMENT_ON_HOLD, _N.HOLD_LAPSED, _N.PAYMENT_CONFIRMED])


def test_a_canceled_hold_on_an_order_without_access_changes_no_access(
    localstripe, client, settings
):
    # A risky hold waits for staff: it never had access.
    hold = _hold(ELEVATED_RISK)
    order = Order.objects.get(pk=hold.order_id)
    assert order.needs_review and not Entitlement.objects.filter(order=order).exists()

    _deliver(
        client,
        settings,
        stripe_event("payment_intent.canceled", _stripe_cancels(localstripe, hold)),
    )

    hold.refresh_from_db()
    assert hold.status == Payment.Status.CANCELED
    # checkout heard of it: the money it counted as held is gone from the order...
    order.refresh_from_db()
    assert (order.amount_authorized, order.balance) == (0, order.total)
    # ...and there is no access to pause and nothing to tell about access.
    assert not Entitlement.objects.filter(order=order).exists()
    assert _N.HOLD_LAPSED not in _kinds(order.pk)
    assert not order.events.filter(cause__in=["hold_lapsed", "hold_released"]).exists()


def test_a_staff_release_revokes_access_and_tells_no_lapse(localstripe, client):
    """The admin's "Release hold", with the canceled signal's task running at once (eagerly,
    before the admin's own accounting call): the first news of the release ends the order and
    the access, and the buyer is not told their reservation expired."""
    hold = _hold()
    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    client.force_login(admin_user)
    response = client.post(
        "/admin/checkout/order/",
        {"action": "release_hold", "_selected_action": [hold.order_id]},
        follow=True,
    )
    assert "hold released" in response.content.decode()

    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.CANCELED
    entitlement = Entitlement.objects.get(order=order)
    assert entitlement.status == Entitlement.Status.REVOKED
    assert entitlement.events.filter(to_status="revoked", cause="order_canceled").count() == 1
    # The canceled signal's task ran first and ended it all: no pause on the way.
    assert [(e.to_status, e.cause) for e in entitlement.events.order_by("created_at", "pk")] == [
        ("active", "payment"),
        ("revoked", "order_canceled"),
    ]
    assert list(order.events.filter(to_status="canceled").values_list("cause", flat=True)) == [
        "hold_released"
    ]
    assert _N.HOLD_LAPSED not in _kinds(order.pk)


def _release_in_admin(client) -> str:
    """Staff select the order in the admin and run "Release hold"; the page they see."""
    response = client.post(
        "/admin/checkout/order/",
        {"action": "release_hold", "_selected_action": [Order.objects.get().pk]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def staff_client(client):
    client.force_login(
        get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    )
    return client


def _assert_released_and_ended(hold: Payment) -> None:
    hold.refresh_from_db()
    assert hold.status == Payment.Status.CANCELED
    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.CANCELED
    assert (order.amount_authorized, order.balance) == (0, 0)
    assert list(order.events.filter(to_status="canceled").values_list("cause", flat=True)) == [
        "hold_released"
    ]
    entitlement = Entitlement.objects.get(order=order)
    assert entitlement.status == Entitlement.Status.REVOKED
    assert [(e.to_status, e.cause) for e in entitlement.events.order_by("created_at", "pk")] == [
        ("active", "payment"),
        ("revoked", "order_canceled"),
    ]
    assert _kinds(order.pk) == [_N.PAYMENT_ON_HOLD]  # no "reservation expired" for a release


def _assert_nothing_decided(hold: Payment) -> None:
    """A lost answer decides nothing: the hold is unknown, the order open, the access kept."""
    hold.refresh_from_db()
    assert hold.status == Payment.Status.UNKNOWN
    assert hold.events.filter(cause="timeout_on_release").count() == 1
    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert Entitlement.objects.get(order=order).status == Entitlement.Status.ACTIVE


def test_a_release_whose_answer_was_lost_ends_the_order_when_stripes_webhook_arrives(
    localstripe, staff_client, settings
):
    hold = _hold()
    with answers_lost(settings, localstripe, lose="/cancel"):
        page = _release_in_admin(staff_client)
    # Staff are told the truth: not "released", but "we do not know yet".
    assert "Stripe did not answer in time" in page and "hold released" not in page
    _assert_nothing_decided(hold)

    # Stripe did release it, and says so.
    intent = _intent_at_stripe(localstripe, hold)
    assert intent["status"] == "canceled"
    event = stripe_event("payment_intent.canceled", intent)
    _deliver(staff_client, settings, event)

    _assert_released_and_ended(hold)
    # The same news again changes nothing.
    before = _snapshot(hold.order_id)
    _deliver(staff_client, settings, event)
    order_payment_record(payment_id=hold.pk)
    assert _snapshot(hold.order_id) == before


def test_a_release_whose_answer_was_lost_is_settled_by_reconciliation(
    localstripe, staff_client, settings
):
    hold = _hold()
    with answers_lost(settings, localstripe, lose="/cancel"):
        _release_in_admin(staff_client)
    _assert_nothing_decided(hold)

    counts = payments_reconcile(now=timezone.now() + timedelta(hours=1))

    assert counts["changed"] == 1
    _assert_released_and_ended(hold)


@pytest.mark.parametrize("status", [0, 500], ids=["no-answer", "server-error"])
def test_a_release_stripe_never_ran_can_be_made_again(localstripe, staff_client, settings, status):
    """Stripe never ran the cancel (the call was lost, or its server failed and saved that 500
    for the key). Once the hold shows as authorised again, staff release it again, through the
    same Stripe: under a new idempotency key, or Stripe would replay the saved 500 for a day."""
    hold = _hold()
    with answers_lost(
        settings, localstripe, lose="/cancel", acts=False, status=status
    ) as stripe_proxy:
        _release_in_admin(staff_client)
        _assert_nothing_decided(hold)

        # Reconciliation finds the hold still in place: it secures the order as before.
        payments_reconcile(now=timezone.now() + timedelta(hours=1))
        hold.refresh_from_db()
        assert hold.status == Payment.Status.AUTHORIZED
        order = Order.objects.get(pk=hold.order_id)
        assert order.status == Order.Status.AWAITING_PAYMENT
        assert order.amount_authorized == order.total
        assert Entitlement.objects.get(order=order).status == Entitlement.Status.ACTIVE
        assert _kinds(order.pk) == [_N.PAYMENT_ON_HOLD]

        # So staff release it again, and this time Stripe runs it.
        stripe_proxy.stop_losing()
        page = _release_in_admin(staff_client)
    assert "hold released; the order is canceled" in page
    _assert_released_and_ended(hold)


def test_a_hold_that_lapses_after_a_release_stripe_never_ran_is_a_lapse(
    localstripe, staff_client, settings
):
    """Staff's release never reached Stripe and the hold showed as authorised again; days later
    Stripe lets it expire. That is a lapse (the buyer is told and may pay), not the release."""
    hold = _hold()
    with answers_lost(settings, localstripe, lose="/cancel", acts=False):
        _release_in_admin(staff_client)
    payments_reconcile(now=timezone.now() + timedelta(hours=1))
    hold.refresh_from_db()
    assert hold.status == Payment.Status.AUTHORIZED

    _deliver(
        staff_client,
        settings,
        stripe_event("payment_intent.canceled", _stripe_cancels(localstripe, hold)),
    )

    order = Order.objects.get(pk=hold.order_id)
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not order.events.filter(cause="hold_released").exists()
    entitlement = Entitlement.objects.get(order=order)
    assert entitlement.status == Entitlement.Status.SUSPENDED
    assert entitlement.events.filter(to_status="suspended", cause="hold_lapsed").count() == 1
    assert _N.HOLD_LAPSED in _kinds(order.pk)
