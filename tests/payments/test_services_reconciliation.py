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


def _paid_here(intent, **fields) -> Payment:
    values = {
        "stripe_payment_intent_id": intent.id,
        "amount": intent.amount,
        "amount_received": intent.amount,
        "status": Payment.Status.SUCCEEDED,
        "succeeded_at": timezone.now() - timedelta(days=2),
    }
    values.update(fields)
    return payment_create(**values)


def test_a_refund_made_at_stripe_whose_news_was_lost_is_found_applied_and_reported(localstripe):
    from payments.services.reconciliation import payments_recheck_paid

    intent = _intent(amount=8_000, key="paid")
    payment = _paid_here(intent)
    in_step = _paid_here(_intent(amount=3_000, key="other"))
    gateway.refund_create(
        payment_intent_id=intent.id, amount=2_000, idempotency_key="dash", metadata={}
    )

    counts = payments_recheck_paid()

    assert counts == {"checked": 2, "mismatched": 1, "errors": 0}
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 2_000)
    assert payment.events.get().cause == "reconcile"
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.payment_id, discrepancy.amount) == (
        "stripe_mismatch",
        payment.pk,
        2_000,
    )
    assert discrepancy.detail["stripe_amount_refunded"] == 2_000
    assert discrepancy.detail["our_amount_refunded"] == 0
    assert Payment.objects.get(pk=in_step.pk).status == "succeeded"
    # Checked once a day, not every run.
    assert payments_recheck_paid()["checked"] == 0


def test_a_dispute_or_refund_we_count_but_stripe_does_not_is_reported_not_applied(localstripe):
    from payments.models import Dispute
    from payments.services.reconciliation import payments_recheck_paid

    disputed = _paid_here(_intent(amount=5_000, key="d"), status=Payment.Status.DISPUTED)
    Dispute.objects.create(
        payment=disputed,
        stripe_dispute_id="dp_ghost",
        amount=5_000,
        currency="eur",
        opened_at=timezone.now(),
    )
    refunded = _paid_here(
        _intent(amount=5_000, key="r"), status=Payment.Status.REFUNDED, amount_refunded=5_000
    )
    old = _paid_here(
        _intent(amount=5_000, key="o"),
        amount_refunded=100,
        succeeded_at=timezone.now() - timedelta(days=90),
    )

    assert payments_recheck_paid() == {"checked": 2, "mismatched": 2, "errors": 0}

    kinds = dict(Discrepancy.objects.values_list("payment_id", "detail"))
    assert kinds[disputed.pk]["our_disputed"] is True
    assert kinds[disputed.pk]["stripe_disputed"] is False
    assert kinds[refunded.pk]["our_amount_refunded"] == 5_000
    assert Payment.objects.get(pk=refunded.pk).status == "refunded"
    assert Payment.objects.get(pk=disputed.pk).status == "disputed"
    assert old.pk not in kinds  # outside the window
