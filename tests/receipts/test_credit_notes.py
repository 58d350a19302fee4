"""Credit notes: one per succeeded refund, their own gapless series, never more than the receipt;
a lost dispute is recorded against the receipt and credited only when finance chooses to."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Dispute, Payment, Refund
from payments.services import payment_transition
from receipts.models import CreditNote, Receipt, ReceiptEvent
from receipts.services.issue import (
    CreditNoteRefused,
    credit_note_for_dispute,
    credit_note_for_refund,
    credit_notes_for_payment,
)
from receipts.services.sweep import receipts_sweep
from tests.receipts.factories import paid_order, refund_succeeded
from tests.receipts.pdfs import pdf_text, stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def _notes(payment):
    return list(CreditNote.objects.filter(receipt__payment=payment).order_by("sequence"))


def test_a_full_refund_credits_the_whole_receipt(celery_eager):
    _, payment = paid_order(price=12_000)
    refund_succeeded(payment, 12_000, reason="Cancelled before the start")

    (note,) = _notes(payment)
    receipt = Receipt.objects.get(payment=payment)
    assert note.number == f"CN-{note.year}-000001"
    assert (note.net, note.tax, note.total) == (receipt.net, receipt.tax, receipt.total)
    assert note.status == CreditNote.Status.STORED
    text = pdf_text(stored_pdf(note))
    assert "Credit note" in text and note.number in text
    assert f"Corrects receipt {receipt.number}" in text
    assert "Refunded €120.00" in text and "Cancelled before the start" in text


def test_a_partial_refund_credits_its_share_with_the_tax_in_proportion(celery_eager):
    _, payment = paid_order(price=12_000, tax_rate_bp=2000)
    refund_succeeded(payment, 3_000)
    (note,) = _notes(payment)
    assert (note.net, note.tax, note.total) == (2_500, 500, 3_000)


def test_two_partial_refunds_get_two_credit_notes_that_add_up_to_the_receipt(celery_eager):
    _, payment = paid_order(price=10_000, tax_rate_bp=1900)
    refund_succeeded(payment, 3_333)  # partially refunded: the signal credits it
    refund_succeeded(payment, 6_667)  # refunded: the signal credits the rest

    first, second = _notes(payment)
    receipt = Receipt.objects.get(payment=payment)
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.total + second.total == receipt.total
    assert first.tax + second.tax == receipt.tax and first.net + second.net == receipt.net


def test_a_refund_that_changes_no_status_is_credited_by_the_sweeper(celery_eager):
    _, payment = paid_order(price=12_000)
    refund_succeeded(payment, 1_000)
    # A second partial refund: partially_refunded -> partially_refunded sends no signal.
    second = refund_succeeded(payment, 2_000)
    assert not CreditNote.objects.filter(refund=second).exists()
    Refund.objects.filter(pk=second.pk).update(updated_at=timezone.now() - timedelta(minutes=5))

    assert receipts_sweep()["credit_notes"] == 1
    note = CreditNote.objects.get(refund=second)
    assert note.total == 2_000 and note.status == CreditNote.Status.STORED


def test_credit_notes_never_add_up_to_more_than_the_receipt(celery_eager):
    _, payment = paid_order(price=5_000)
    refund_succeeded(payment, 5_000)
    # Stripe reporting another refund on a fully refunded payment (a duplicate row, a bug):
    extra = Refund.objects.create(
        payment=payment, idempotency_key="test:extra", stripe_refund_id="re_extra",
        amount=100, currency="eur", reason="extra", status=Refund.Status.SUCCEEDED,
    )  # fmt: skip
    with pytest.raises(CreditNoteRefused):
        credit_note_for_refund(refund_id=extra.pk)
    assert credit_notes_for_payment(payment_id=payment.pk) == []
    assert sum(n.total for n in _notes(payment)) == 5_000


def test_a_refund_not_yet_succeeded_is_not_credited(celery_eager):
    _, payment = paid_order()
    pending = Refund.objects.create(
        payment=payment, idempotency_key="test:pending", amount=1_000, currency="eur",
        reason="asked", status=Refund.Status.PENDING,
    )  # fmt: skip
    assert credit_notes_for_payment(payment_id=payment.pk) == []
    with pytest.raises(CreditNoteRefused):
        credit_note_for_refund(refund_id=pending.pk)


def test_the_same_refund_is_credited_once_however_often_it_is_asked(celery_eager):
    _, payment = paid_order()
    refund = refund_succeeded(payment, 2_000)
    for _ in range(3):
        credit_notes_for_payment(payment_id=payment.pk)
        credit_note_for_refund(refund_id=refund.pk)
    assert CreditNote.objects.count() == 1


def _lose_dispute(payment: Payment) -> Dispute:
    dispute = Dispute.objects.create(
        payment=payment, stripe_dispute_id="dp_test_lost", amount=payment.amount,
        currency=payment.currency, reason="fraudulent", opened_at=timezone.now(),
    )  # fmt: skip
    payment_transition(payment_id=payment.pk, to_status=Payment.Status.DISPUTED, cause="test")
    Dispute.objects.filter(pk=dispute.pk).update(
        status=Dispute.Status.LOST, closed_at=timezone.now()
    )
    payment_transition(payment_id=payment.pk, to_status=Payment.Status.REFUNDED, cause="test")
    return Dispute.objects.get(pk=dispute.pk)


def test_a_lost_dispute_is_recorded_on_the_receipt_without_a_credit_note(celery_eager, admin_user):
    _, payment = paid_order()
    dispute = _lose_dispute(payment)

    receipt = Receipt.objects.get(payment=payment)
    lost = ReceiptEvent.objects.filter(receipt=receipt, cause="dispute_lost")
    assert lost.count() == 1 and lost.get().detail["dispute"] == "dp_test_lost"
    assert not CreditNote.objects.exists()

    # Finance chooses to credit it.
    note = credit_note_for_dispute(dispute_id=dispute.pk, actor=admin_user)
    assert note.dispute_id == dispute.pk and note.total == receipt.total
    assert note.issued_by == admin_user
    assert credit_note_for_dispute(dispute_id=dispute.pk, actor=admin_user) == note
