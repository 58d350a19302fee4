"""Money that arrives on an intent whose amount or currency is not the one we asked for is never
fulfilled silently: the discrepancy is opened when payments applies the intent, and checkout
holds the order for staff (no access, no confirmation) whichever path brings the news first.

End to end: a real intent at localstripe, the buyer's 3-D Secure check, then Stripe's
`payment_intent.succeeded` event, signed as Stripe signs it and posted to the real endpoint,
carrying the intent in another currency (what a changed intent would look like)."""

import uuid

import pytest

from checkout.models import Entitlement, Notification, Order
from checkout.services.accounting import order_payment_record
from checkout.services.checkout import checkout_refresh
from checkout.services.orders import order_create
from payments.models import Discrepancy, Payment
from tests.checkout.cards import THREE_DS
from tests.checkout.factories import OfferFactory
from tests.checkout.saved_cards import checkout_pay_with
from tests.stripe_helpers import deliver_event, intent_at_localstripe, pass_3ds, stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]

_N = Notification.Kind
_MISMATCHES = [Discrepancy.Kind.CURRENCY_MISMATCH, Discrepancy.Kind.AMOUNT_MISMATCH]


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"currency": "usd"}, Discrepancy.Kind.CURRENCY_MISMATCH),
        ({"amount": 45_000}, Discrepancy.Kind.AMOUNT_MISMATCH),
    ],
    ids=["other-currency", "other-amount"],
)
def test_a_payment_that_differs_from_the_order_is_held_for_review(
    localstripe, client, settings, change, kind
):
    order = order_create(
        offer=OfferFactory(price_amount=30_000, currency="EUR"),
        checkout_token=uuid.uuid4(),
        email="max@example.com",
        name="Max",
        billing_country="GB",
    )
    outcome = checkout_pay_with(order, THREE_DS, ip=None)
    assert outcome.status == Payment.Status.REQUIRES_ACTION
    payment = outcome.payment
    pass_3ds(localstripe, payment.stripe_payment_intent_id, outcome.client_secret)

    intent = {**intent_at_localstripe(localstripe, payment.stripe_payment_intent_id), **change}
    response = deliver_event(
        client, stripe_event("payment_intent.succeeded", intent), settings.STRIPE_WEBHOOK_SECRET
    )
    assert response.status_code == 200

    # (More money than the order also opens an overpayment discrepancy, as it should.)
    discrepancy = Discrepancy.objects.get(payment=payment, kind__in=_MISMATCHES)
    assert discrepancy.kind == kind and discrepancy.status == Discrepancy.Status.OPEN
    order.refresh_from_db()
    assert order.needs_review and "differs from the order" in order.review_reason
    assert order.events.filter(cause="mismatch_review", detail__payment=payment.pk).count() == 1
    # Held: no access and no confirmation; the buyer is told the payment is being checked.
    assert not Entitlement.objects.filter(order=order).exists()
    kinds = list(Notification.objects.filter(order=order).values_list("kind", flat=True))
    assert _N.PAYMENT_CONFIRMED not in kinds
    # (An overpayment's own notice already told the buyer about this payment.)
    assert _N.PAYMENT_UNDER_REVIEW in kinds or _N.OVERPAYMENT in kinds

    # The browser's refresh and a redelivery change nothing, and flag it once.
    checkout_refresh(order_id=order.pk)
    order_payment_record(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.needs_review and not Entitlement.objects.filter(order=order).exists()
    assert order.events.filter(cause="mismatch_review").count() == 1
    assert Order.objects.get(pk=order.pk).review_reason == order.review_reason
