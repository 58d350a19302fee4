"""Staff refunds against localstripe: full, partial, idempotent, bounded, audit logged."""

import threading

import pytest
from django.db import connections

from config.models import AuditLogEntry
from payments.models import Payment, Refund
from payments.services.charge import customer_ensure, payment_start
from payments.services.refunds import RefundFailed, RefundNotAllowed, payment_refund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(localstripe):
    customer = customer_ensure(email="refund@example.com", name="Ref Und")
    payment = payment_start(
        idempotency_key="order:7:checkout",
        amount=10_000,
        currency="eur",
        customer=customer,
        payment_method_id="pm_card_visa",
    )
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


def test_a_partial_then_the_remaining_refund(paid, admin_user, money_signals):
    first = payment_refund(
        payment_id=paid.pk, amount=2_500, reason="Late delivery", actor=admin_user, request_key="a"
    )
    paid.refresh_from_db()
    assert (first.status, first.amount, first.reason) == ("succeeded", 2_500, "Late delivery")
    assert first.stripe_refund_id.startswith("re_")
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", 2_500)

    rest = payment_refund(
        payment_id=paid.pk, amount=None, reason="Cancelled", actor=admin_user, request_key="b"
    )
    paid.refresh_from_db()
    assert rest.amount == 7_500
    assert (paid.status, paid.amount_refunded) == ("refunded", 10_000)
    assert [s[2] for s in money_signals if s[0] == "payment_refunded"] == [
        "partially_refunded",
        "refunded",
    ]
    entries = AuditLogEntry.objects.filter(action="payments.refund").order_by("id")
    assert [(e.actor, e.detail["amount"], e.detail["reason"]) for e in entries] == [
        (admin_user, 2_500, "Late delivery"),
        (admin_user, 7_500, "Cancelled"),
    ]
    history = paid.events.filter(cause="staff_refund").values_list("actor", flat=True)
    assert list(history) == [admin_user.pk, admin_user.pk]


def test_the_same_request_twice_refunds_once(paid, admin_user):
    first = payment_refund(
        payment_id=paid.pk, amount=1_000, reason="Goodwill", actor=admin_user, request_key="k"
    )
    again = payment_refund(
        payment_id=paid.pk, amount=1_000, reason="Goodwill", actor=admin_user, request_key="k"
    )
    assert first.pk == again.pk
    assert Refund.objects.count() == 1
    assert Payment.objects.get(pk=paid.pk).amount_refunded == 1_000


def test_concurrent_double_submits_refund_once(paid, admin_user):
    results, errors = [], []

    def submit():
        try:
            results.append(
                payment_refund(
                    payment_id=paid.pk,
                    amount=3_000,
                    reason="Double click",
                    actor=admin_user,
                    request_key="same-form",
                ).pk
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    assert Refund.objects.count() == 1
    assert Payment.objects.get(pk=paid.pk).amount_refunded == 3_000


@pytest.mark.parametrize("amount", [0, -5, 10_001])
def test_amounts_outside_what_is_left_are_refused(paid, admin_user, amount):
    with pytest.raises(RefundNotAllowed):
        payment_refund(
            payment_id=paid.pk, amount=amount, reason="x", actor=admin_user, request_key="r"
        )
    assert Refund.objects.count() == 0


def test_a_reason_is_required_and_unpaid_payments_cannot_be_refunded(paid, admin_user):
    with pytest.raises(RefundNotAllowed):
        payment_refund(
            payment_id=paid.pk, amount=None, reason=" ", actor=admin_user, request_key="r"
        )
    Payment.objects.filter(pk=paid.pk).update(status=Payment.Status.FAILED)
    with pytest.raises(RefundNotAllowed):
        payment_refund(
            payment_id=paid.pk, amount=None, reason="x", actor=admin_user, request_key="r"
        )


def test_stripe_refusing_the_refund_is_recorded_and_audited(paid, admin_user):
    Payment.objects.filter(pk=paid.pk).update(stripe_payment_intent_id="pi_unknown_to_stripe")
    with pytest.raises(RefundFailed):
        payment_refund(
            payment_id=paid.pk, amount=100, reason="x", actor=admin_user, request_key="r"
        )
    assert Refund.objects.get().status == "failed"
    assert Payment.objects.get(pk=paid.pk).status == "succeeded"
    assert AuditLogEntry.objects.filter(action="payments.refund_failed").count() == 1
