"""Issuing: one receipt per successful payment, gapless numbers under concurrency and rollback,
immutable once issued (the Postgres trigger), idempotent tasks."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from checkout.models import Offer
from payments.models import Payment
from receipts.models import CreditNote, DocumentCounter, Receipt, ReceiptEvent
from receipts.services.issue import ReceiptNotIssued, document_number_take, receipt_issue
from receipts.services.production import receipt_produce
from receipts.tasks import receipt_produce_task
from tests.checkout.factories import OrderFactory, PaymentFactory
from tests.receipts.factories import paid_order, pay_order

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_fifty_payments_issued_in_parallel_get_consecutive_numbers_and_rollbacks_leave_no_gap():
    payments = [paid_order()[1] for _ in range(50)]
    doomed = [paid_order()[1] for _ in range(10)]
    barrier = threading.Barrier(len(payments) + len(doomed))
    errors: list[BaseException] = []

    def issue(payment: Payment, *, roll_back: bool) -> None:
        try:
            barrier.wait()
            if roll_back:
                # Issued inside a transaction that then fails: its number must come back.
                with transaction.atomic():
                    receipt_issue(payment_id=payment.pk)
                    raise Rollback
            receipt_issue(payment_id=payment.pk)
        except Rollback:
            pass
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=issue, args=(p,), kwargs={"roll_back": False}) for p in payments
    ]
    threads += [
        threading.Thread(target=issue, args=(p,), kwargs={"roll_back": True}) for p in doomed
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert errors == []
    receipts = list(Receipt.objects.order_by("sequence"))
    year = receipts[0].year
    assert [r.sequence for r in receipts] == list(range(1, 51))
    assert [r.number for r in receipts] == [f"R-{year}-{n:06d}" for n in range(1, 51)]
    assert {r.payment_id for r in receipts} == {p.pk for p in payments}
    assert DocumentCounter.objects.get(series="R", year=year).last_number == 50
    assert not Receipt.objects.filter(payment__in=doomed).exists()


def test_the_same_payment_issued_from_many_threads_gets_one_receipt_and_uses_one_number():
    _, payment = paid_order()
    barrier = threading.Barrier(8)
    numbers: list[str] = []

    def issue() -> None:
        try:
            barrier.wait()
            numbers.append(receipt_issue(payment_id=payment.pk).number)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(set(numbers)) == 1 and len(numbers) == 8
    receipt = Receipt.objects.get()
    assert DocumentCounter.objects.get(series="R").last_number == receipt.sequence == 1


def test_a_number_is_taken_only_inside_the_issuing_transaction():
    with pytest.raises(RuntimeError):
        document_number_take(series="R", year=2026)


def test_each_series_and_year_counts_from_one():
    first = receipt_issue(
        payment_id=paid_order()[1].pk, now=datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    )
    second = receipt_issue(
        payment_id=paid_order()[1].pk, now=datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    )
    assert (first.number, second.number) == ("R-2026-000001", "R-2027-000001")


def test_checkout_deposit_balance_and_renewal_payments_each_get_one_receipt(celery_eager):
    order, deposit = paid_order(price=30_000, billing_type=Offer.BillingType.DEPOSIT, deposit=9_000)
    balance = pay_order(order, amount=21_000, kind=Payment.AttemptKind.BALANCE)
    _, renewal = paid_order(billing_type=Offer.BillingType.RECURRING)
    renewal2 = pay_order(renewal.order, amount=12_000, kind=Payment.AttemptKind.RENEWAL)

    for payment in (deposit, balance, renewal, renewal2):
        receipt = Receipt.objects.get(payment=payment)  # issued by the signal's task
        assert receipt.status == Receipt.Status.STORED
        assert receipt.total == payment.amount_received
    assert Receipt.objects.count() == 4
    # The deposit and the balance add up to the order, tax included, to the cent.
    parts = Receipt.objects.filter(order=order)
    assert sum(r.total for r in parts) == order.total
    assert sum(r.tax for r in parts) == order.tax


def test_a_payment_that_did_not_succeed_gets_no_receipt():
    payment = PaymentFactory(order=OrderFactory())
    with pytest.raises(ReceiptNotIssued):
        receipt_issue(payment_id=payment.pk)
    assert not Receipt.objects.exists()


def test_a_redelivered_task_changes_nothing(celery_eager):
    _, payment = paid_order()  # the signal's task ran once
    receipt = Receipt.objects.get(payment=payment)
    events = ReceiptEvent.objects.count()

    receipt_produce_task.delay(payment.pk)
    receipt_produce(payment_id=payment.pk)

    again = Receipt.objects.get(payment=payment)
    assert (again.number, again.pdf_path, again.pdf_sha256, again.snapshot) == (
        receipt.number, receipt.pdf_path, receipt.pdf_sha256, receipt.snapshot,
    )  # fmt: skip
    assert ReceiptEvent.objects.count() == events
    assert DocumentCounter.objects.get(series="R").last_number == 1


def _refused(statement: str, *params) -> None:
    with (
        pytest.raises((IntegrityError, InternalError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)


def test_postgres_refuses_changes_to_an_issued_receipt_and_any_delete(celery_eager):
    _, payment = paid_order()
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.status == Receipt.Status.STORED

    _refused("UPDATE receipts_receipt SET number = 'R-2026-999999' WHERE id = %s", receipt.pk)
    _refused("UPDATE receipts_receipt SET total = total + 1 WHERE id = %s", receipt.pk)
    _refused(
        "UPDATE receipts_receipt SET snapshot = jsonb_set(snapshot, '{buyer,name}', '\"X\"') "
        "WHERE id = %s",
        receipt.pk,
    )
    _refused("UPDATE receipts_receipt SET pdf_sha256 = 'forged' WHERE id = %s", receipt.pk)
    _refused("UPDATE receipts_receipt SET status = 'issued' WHERE id = %s", receipt.pk)
    _refused("DELETE FROM receipts_receipt WHERE id = %s", receipt.pk)
    _refused("UPDATE receipts_documentcounter SET last_number = last_number - 1")
    _refused("DELETE FROM receipts_documentcounter")
    _refused("UPDATE receipts_receiptevent SET cause = 'forged'")
    _refused("DELETE FROM receipts_receiptevent")
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        Receipt.objects.filter(pk=receipt.pk).delete()

    # Delivery bookkeeping may still change.
    Receipt.objects.filter(pk=receipt.pk).update(render_attempts=3, last_error="")
    assert Receipt.objects.get(pk=receipt.pk).snapshot == receipt.snapshot


def test_a_credit_note_is_immutable_too(celery_eager):
    from tests.receipts.factories import refund_succeeded

    _, payment = paid_order()
    refund_succeeded(payment, 2_000)
    note = CreditNote.objects.get()
    _refused("UPDATE receipts_creditnote SET total = 1 WHERE id = %s", note.pk)
    _refused("DELETE FROM receipts_creditnote WHERE id = %s", note.pk)


def test_later_edits_to_the_offer_order_or_seller_never_change_an_issued_receipt(
    settings, celery_eager
):
    from receipts.rendering.pdf import document_render
    from tests.receipts.pdfs import pdf_text, stored_pdf

    order, payment = paid_order(offer_name="Pottery for beginners")
    receipt = Receipt.objects.get(payment=payment)
    before = pdf_text(stored_pdf(receipt))

    order.offer.name = "Renamed offer"
    order.offer.price_amount = 99_000
    order.offer.save()
    settings.SELLER_LEGAL_NAME = "Another Seller plc"
    settings.SELLER_TAX_ID = "GB999999999"

    receipt.refresh_from_db()
    again = pdf_text(document_render(receipt.snapshot).pdf)
    assert again == before
    assert "Pottery for beginners" in again and "Renamed offer" not in again
    assert "Demo Seller Ltd" in again and "Another Seller plc" not in again


def test_a_payment_without_an_order_gets_a_receipt_for_its_customer(celery_eager):
    from payments.services import payment_transition
    from tests.receipts.factories import card_customer

    customer = card_customer("walk-in@example.com")
    payment = Payment.objects.create(
        customer=customer, idempotency_key="test:manual:1", amount=4_200, currency="gbp",
        attempt_kind=Payment.AttemptKind.MANUAL, metadata={"description": "Workshop seat"},
    )  # fmt: skip
    payment_transition(
        payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="test",
        fields={"amount_received": 4_200},
    )  # fmt: skip
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.status == Receipt.Status.STORED and receipt.order is None
    assert receipt.buyer_email == "walk-in@example.com"
    assert [line["description"] for line in receipt.snapshot["lines"]] == ["Workshop seat"]
    assert (receipt.net, receipt.tax, receipt.total, receipt.currency) == (4_200, 0, 4_200, "GBP")
