import threading

import pytest
from django.db import connection

from payments.models import Payment, PaymentEvent
from payments.services import PaymentMismatch, customer_ensure, payment_refresh, payment_start

pytestmark = pytest.mark.django_db(transaction=True)


def _start(customer, key="order:1:checkout", payment_method="pm_card_visa", **kwargs):
    return payment_start(
        idempotency_key=key,
        amount=kwargs.pop("amount", 12_500),
        currency=kwargs.pop("currency", "EUR"),
        customer=customer,
        payment_method_id=payment_method,
        **kwargs,
    )


def test_a_card_payment_succeeds_and_records_its_history(localstripe):
    customer = customer_ensure(email="Ada@Example.com", name="Ada")
    payment = _start(customer)

    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.amount_received == 12_500
    assert payment.currency == "eur"
    assert customer.email == "ada@example.com" and customer.stripe_customer_id.startswith("cus_")
    applied = PaymentEvent.objects.filter(payment=payment, outcome="applied")
    assert list(applied.values_list("to_status", flat=True)) == ["succeeded"]


def test_a_declined_card_fails_with_its_code(localstripe):
    customer = customer_ensure(email="bo@example.com", name="Bo")
    payment = _start(customer, payment_method="pm_card_chargeCustomerFail")

    assert payment.status == Payment.Status.FAILED
    assert payment.failure_code == "card_declined"
    assert payment.stripe_payment_intent_id


def test_the_same_key_twice_touches_stripe_once(localstripe):
    customer = customer_ensure(email="cy@example.com", name="Cy")
    first = _start(customer)
    second = _start(customer)
    assert first.pk == second.pk
    assert Payment.objects.count() == 1


def test_a_key_reused_for_another_amount_is_refused(localstripe):
    customer = customer_ensure(email="di@example.com", name="Di")
    _start(customer)
    with pytest.raises(PaymentMismatch):
        _start(customer, amount=999)


def test_ten_concurrent_pay_clicks_create_exactly_one_payment_intent(localstripe):
    from payments import gateway

    customer = customer_ensure(email="eve@example.com", name="Eve")
    barrier = threading.Barrier(10)
    results, errors = [], []

    def click():
        try:
            barrier.wait()
            results.append(_start(customer, key="order:77:checkout").pk)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert len(set(results)) == 1
    payment = Payment.objects.get()
    intents = [
        r
        for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("payment_id") == str(payment.pk)
    ]
    assert len(intents) == 1
    assert payment.status == Payment.Status.SUCCEEDED


def test_refresh_finds_the_intent_of_an_unknown_payment_without_creating_one(localstripe):
    from payments import gateway

    customer = customer_ensure(email="fay@example.com", name="Fay")
    payment = Payment.objects.create(
        idempotency_key="order:9:checkout", amount=5000, currency="eur", customer=customer,
        status=Payment.Status.UNKNOWN,
    )  # fmt: skip
    # The create reached Stripe but its answer was lost.
    gateway.payment_intent_create(
        amount=5000, currency="eur", customer=customer.stripe_customer_id,
        payment_method="pm_card_visa", confirm=True, metadata={"payment_id": str(payment.pk)},
        idempotency_key="lost",
    )  # fmt: skip

    payment = payment_refresh(payment=payment)

    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.stripe_payment_intent_id
    assert len(gateway.payment_intents_recent(created_gte=0)) == 1
