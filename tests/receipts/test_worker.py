"""The whole path in real processes: payment_succeeded → receiver → the worker issues, renders
and stores the receipt → checkout's confirmation, which waited for it, goes with the PDF."""

import pytest

from checkout.models import Notification
from receipts.models import CreditNote, Receipt
from tests.conftest import wait_until
from tests.receipts.factories import paid_order, refund_succeeded

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sent(order, kind):
    return Notification.objects.filter(
        order=order, kind=kind, status=Notification.Status.SENT
    ).first()


def test_a_paid_order_gets_its_receipt_and_one_email_carrying_it_through_the_worker(
    celery_worker,
):
    order, payment = paid_order(email="ada@example.com")

    confirmation = wait_until(lambda: _sent(order, Notification.Kind.PAYMENT_CONFIRMED), timeout=30)
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.status == Receipt.Status.STORED
    assert [a["document"] for a in confirmation.attachments] == [f"receipt:{receipt.pk}"]
    assert confirmation.attachments[0]["sha256"] == receipt.pdf_sha256
    wait_until(lambda: Receipt.objects.get(pk=receipt.pk).delivered_by_id == confirmation.pk)
    assert Notification.objects.filter(order=order).count() == 1

    refund_succeeded(payment, 1_500)
    refund_email = wait_until(lambda: _sent(order, Notification.Kind.REFUND_ISSUED), timeout=30)
    note = CreditNote.objects.get(receipt=receipt)
    assert [a["document"] for a in refund_email.attachments] == [f"credit_note:{note.pk}"]
