"""Radar's verdict is decided under the order's lock, whichever path records the payment first:
the browser's confirm (checkout_pay / checkout_refresh) or the webhook's task in the worker.
A risky payment's order goes to review and gets no access until staff release it.

Charges get Stripe's test-card verdicts from devtools/localstripe_server.py, and events carry
the charge as an id, as Stripe's do, so the worker must retrieve the verdict itself."""

import json
import uuid

import pytest

from checkout.models import Entitlement, Notification, Order
from checkout.services.accounting import order_payment_record, order_review_release
from checkout.services.checkout import checkout_refresh
from checkout.services.orders import order_create
from checkout.tasks import RISK_MAX_RETRIES, order_payment_record_task
from payments.models import Payment, WebhookEvent
from tests.checkout.cards import ELEVATED_RISK, ELEVATED_RISK_3DS, VISA
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.conftest import wait_until
from tests.stripe_helpers import pass_3ds

pytestmark = pytest.mark.django_db(transaction=True)

_N = Notification.Kind


def _order(**offer):
    return order_create(
        offer=OfferFactory(**offer),
        checkout_token=uuid.uuid4(),
        email="eve@example.com",
        name="Eve",
        billing_country="GB",
        ip_address="203.0.113.9",
    )


def _complete_3ds(localstripe, payment, client_secret):
    pass_3ds(localstripe, payment.stripe_payment_intent_id, client_secret)


def _kinds(order):
    return sorted(Notification.objects.filter(order=order).values_list("kind", flat=True))


def test_webhook_first_a_risky_payment_is_reviewed_and_gets_no_access(
    localstripe, celery_worker, live_server, settings
):
    localstripe.register_webhook(
        name="portal",
        url=f"{live_server.url}/webhooks/stripe/",
        secret=settings.STRIPE_WEBHOOK_SECRET,
    )
    order = _order()
    outcome = checkout_pay_with(order, ELEVATED_RISK_3DS, ip=None)
    assert outcome.status == Payment.Status.REQUIRES_ACTION
    payment = outcome.payment

    _complete_3ds(localstripe, payment, outcome.client_secret)

    # localstripe's payment_intent.succeeded webhook reaches the worker, which records the
    # payment before the browser has asked anything.
    wait_until(lambda: Order.objects.get(pk=order.pk).status == Order.Status.PAID, timeout=30)
    # This payment's event: localstripe's webhook stays registered for the session, so a late
    # delivery about an earlier test's intent may land here too.
    event = WebhookEvent.objects.get(
        type="payment_intent.succeeded",
        payload__data__object__id=payment.stripe_payment_intent_id,
    )
    assert isinstance(json.loads(json.dumps(event.payload))["data"]["object"]["latest_charge"], str)
    order.refresh_from_db()
    assert not Entitlement.objects.filter(order=order).exists()
    assert order.needs_review and order.review_reason == "Radar risk level elevated"
    assert _kinds(order) == [_N.PAYMENT_UNDER_REVIEW]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.risk_level == "elevated"  # retrieved: the event did not carry it

    # Now the browser's refresh: the payment is already succeeded, and still no access.
    after = checkout_refresh(order_id=order.pk)
    assert after.status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.needs_review
    assert not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [_N.PAYMENT_UNDER_REVIEW]
    assert order.events.filter(cause="risk_review").count() == 1

    # Staff release it: access and the confirmation follow, and recording the same payment
    # again (a redelivery) does not put it back under review.
    order_review_release(order_id=order.pk)
    order_payment_record(payment_id=payment.pk, cause="redelivery")
    order.refresh_from_db()
    assert not order.needs_review
    assert Entitlement.objects.get(order=order).status == Entitlement.Status.ACTIVE
    assert _kinds(order) == [_N.PAYMENT_CONFIRMED, _N.PAYMENT_UNDER_REVIEW]


def test_browser_first_a_risky_payment_stays_without_access_after_the_worker_runs(
    localstripe, celery_worker
):
    order = _order()
    outcome = checkout_pay_with(order, ELEVATED_RISK, ip=None)
    assert outcome.status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.needs_review and order.review_reason == "Radar risk level elevated"
    assert not Entitlement.objects.filter(order=order).exists()

    # The succeeded signal's task records the same payment in the worker: the "under review"
    # email is sent by the worker after it, and by then access must still be held back.
    wait_until(
        lambda: Notification.objects.filter(
            order=order, kind=_N.PAYMENT_UNDER_REVIEW, status=Notification.Status.SENT
        ).exists(),
        timeout=30,
    )
    assert not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [_N.PAYMENT_UNDER_REVIEW]
    assert order.events.filter(cause="risk_review").count() == 1


def test_a_risky_hold_is_reviewed_not_told_it_has_access(localstripe):
    order = _order(billing_type="hold", price_amount=30_000)
    outcome = checkout_pay_with(order, ELEVATED_RISK, ip=None)
    assert outcome.status == Payment.Status.AUTHORIZED
    order.refresh_from_db()
    assert order.needs_review and not Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [_N.PAYMENT_UNDER_REVIEW]

    order_review_release(order_id=order.pk)
    assert Entitlement.objects.get(order=order).granted_by_payment_id == outcome.payment.pk
    assert _kinds(order) == [_N.PAYMENT_ON_HOLD, _N.PAYMENT_UNDER_REVIEW]


def test_a_normal_risk_payment_is_not_reviewed(localstripe):
    order = _order()
    outcome = checkout_pay_with(order, VISA, ip=None)
    assert outcome.payment.risk_level == "normal"
    order.refresh_from_db()
    assert not order.needs_review
    assert Entitlement.objects.filter(order=order).exists()


def test_a_verdict_stripe_cannot_give_holds_access_back_until_staff_decide(
    localstripe, client, settings, celery_eager
):
    from tests.payments.factories import intent_event, payment_create, signed

    order = _order()
    # An intent localstripe does not know: retrieving its charge fails every time.
    payment = payment_create(order=order, amount=order.total, currency=order.currency.lower())
    event = intent_event(payment, "payment_intent.succeeded", latest_charge="ch_unseen")
    body, signature = signed(event, settings.STRIPE_WEBHOOK_SECRET)
    response = client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": signature},
    )
    assert response.status_code == 200

    # The first run of the signal's task could not learn the verdict: it holds access and the
    # email back, and asks to run again.
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.risk_level == ""
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not Entitlement.objects.filter(order=order).exists()
    assert not order.needs_review and _kinds(order) == []

    # Its last retry still cannot: the order goes in front of staff.
    order_payment_record_task.apply(args=[payment.pk], retries=RISK_MAX_RETRIES)
    order.refresh_from_db()
    assert not Entitlement.objects.filter(order=order).exists()
    assert order.needs_review
    assert order.review_reason == "Radar verdict could not be retrieved from Stripe"
    assert _kinds(order) == [_N.PAYMENT_UNDER_REVIEW]

    order_review_release(order_id=order.pk)
    assert Entitlement.objects.filter(order=order).exists()
    assert _kinds(order) == [_N.PAYMENT_CONFIRMED, _N.PAYMENT_UNDER_REVIEW]
