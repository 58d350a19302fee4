"""Reconciliation: payments stuck waiting are checked at Stripe (localstripe)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import gateway
from payments.models import Discrepancy, Payment
from payments.services.reconciliation import payments_reconcile
from tests.payments.factories import payment_create

pytestmark = pytest.mark.django_db(transaction=True)


def _intent(amount=5_000, currency="eur", metadata=None, key="k"):
    return gateway.payment_intent_create(
        amount=amount,
        currency=currency,
        metadata=metadata or {},
        idempotency_key=key,
        payment_method="pm_card_visa",
        confirm=True,
    )


def test_a_missed_webhook_is_caught_up_and_not_asked_again_at_once(localstripe, settings):
    intent = _intent()
    stuck = payment_create(stripe_payment_intent_id=intent.id, amount=5_000)
    fresh = payment_create(stripe_payment_intent_id=_intent(key="k2").id, amount=5_000)
    later = timezone.now() + timedelta(seconds=settings.PAYMENTS_RECONCILE_AFTER_SECONDS + 1)
    Payment.objects.filter(pk=fresh.pk).update(updated_at=later)

    counts = payments_reconcile(now=later)

    assert counts == {"checked": 1, "changed": 1, "errors": 0}
    stuck.refresh_from_db()
    assert stuck.status == Payment.Status.SUCCEEDED
    assert stuck.events.get().cause == "reconcile"
    assert Payment.objects.get(pk=fresh.pk).status == Payment.Status.PROCESSING
    assert payments_reconcile(now=later)["checked"] == 0


def test_an_unknown_payment_is_found_by_its_metadata(localstripe, settings):
    payment = payment_create(stripe_payment_intent_id=None, status=Payment.Status.UNKNOWN)
    intent = _intent(amount=payment.amount, metadata={"payment_id": str(payment.pk)})

    payments_reconcile(now=timezone.now() + timedelta(hours=1))

    payment.refresh_from_db()
    assert (payment.status, payment.stripe_payment_intent_id) == ("succeeded", intent.id)


def test_an_intent_for_another_amount_opens_a_discrepancy(localstripe):
    intent = _intent(amount=4_999)
    payment = payment_create(stripe_payment_intent_id=intent.id, amount=5_000)

    payments_reconcile(now=timezone.now() + timedelta(hours=1))

    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.payment_id, discrepancy.amount) == (
        "amount_mismatch",
        payment.pk,
        4_999,
    )
