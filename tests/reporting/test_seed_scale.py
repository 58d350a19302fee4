"""`seed_demo --scale N`: the proportions, currencies and months asked for, and data that passes
the app's own invariants (gapless receipts, refunds within payments, orders that add up)."""

import io
import re
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from checkout.models import Notification, Order, PaymentCsat
from checkout.selectors import csat_by_week
from checkout.services.accounting import order_totals
from dunning.models import DunningAttempt, DunningCase
from leads.models import Lead
from leads.selectors import consent_chains_verify
from payments.models import PAID_STATUSES, Dispute, Payment, Refund
from receipts.models import CreditNote, DocumentCounter, Receipt
from receipts.services.production import document_render_store
from reporting.seed_scale import scale_seed

pytestmark = pytest.mark.django_db(transaction=True)

N = 200


@pytest.fixture
def seeded():
    out = io.StringIO()
    call_command("seed_demo", "--scale", str(N), stdout=out)
    return out.getvalue()


def test_it_makes_n_payments_in_three_currencies_over_twelve_months(seeded):
    payments = Payment.objects.filter(idempotency_key__startswith="seed-scale:")
    assert payments.count() == N == Payment.objects.count()
    assert set(payments.values_list("currency", flat=True)) == {"eur", "usd", "jpy"}
    months = payments.annotate(m=TruncMonth("created_at")).values("m").distinct().count()
    assert months == 12
    assert "seeded 200 payments" in seeded and "payments 200 of 200 (100%)" in seeded  # progress


def test_the_proportions_are_those_of_a_real_business(seeded):
    orders = Order.objects.count()
    checkout = Payment.objects.filter(attempt_kind="checkout")
    assert checkout.count() == orders  # one first attempt per order
    first_ok = checkout.filter(status__in=PAID_STATUSES).count() / orders
    assert 0.70 <= first_ok <= 0.92
    failed_orders = checkout.filter(status="failed").count()
    assert DunningCase.objects.count() == failed_orders > 0
    recovered = DunningCase.objects.filter(status="recovered")
    assert 0 < recovered.count() < failed_orders
    assert set(recovered.values_list("recovered_channel", flat=True)) <= {"retry", "link"}
    # Leads: every buyer, and half as many again who never bought.
    seeded_leads = Lead.objects.filter(email__endswith="@seed.example.com")
    assert seeded_leads.count() == orders + orders // 2
    paid = Payment.objects.filter(status__in=PAID_STATUSES).count()
    assert 0 < Refund.objects.count() <= 0.12 * paid
    assert Dispute.objects.count() <= 0.03 * paid
    assert Receipt.objects.count() == paid
    assert 0 < PaymentCsat.objects.count() <= 0.35 * paid


def test_receipts_are_gapless_per_year_and_match_their_payments(seeded):
    sequences = defaultdict(list)
    for model in (Receipt, CreditNote):
        for series, year, sequence, number in model.objects.values_list(
            "series", "year", "sequence", "number"
        ):
            assert number == f"{series}-{year}-{sequence:06d}"
            sequences[(series, year)].append(sequence)
    assert {series for series, _ in sequences} == {"R", "CN"}
    counters = {(c.series, c.year): c.last_number for c in DocumentCounter.objects.all()}
    assert set(counters) == set(sequences)
    for key, numbers in sequences.items():
        assert sorted(numbers) == list(range(1, counters[key] + 1)), key
    # Numbered in the order they were paid.
    by_time = list(Receipt.objects.order_by("issued_at", "id").values_list("year", "sequence"))
    assert by_time == sorted(by_time)
    for receipt in Receipt.objects.select_related("payment"):
        assert receipt.payment.status in PAID_STATUSES
        assert receipt.total == receipt.payment.amount_received
        assert receipt.currency == receipt.payment.currency.upper()
        assert receipt.net + receipt.tax == receipt.total == receipt.snapshot["total"]
        assert receipt.snapshot["number"] == receipt.number
        assert receipt.snapshot["buyer"]["email"] == receipt.buyer_email
    # One credit note per refund, for the refund's amount, never more than its receipt.
    assert CreditNote.objects.count() == Refund.objects.count()
    for note in CreditNote.objects.select_related("refund", "receipt"):
        assert note.total == note.refund.amount <= note.receipt.total
        assert note.receipt.payment_id == note.refund.payment_id
        assert note.snapshot["corrects"]["number"] == note.receipt.number
        assert note.issued_at >= note.refund.created_at
        assert note.delivered_by.kind == Notification.Kind.REFUND_ISSUED
    # The immutable-snapshot trigger holds for seeded receipts too.
    one = Receipt.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        Receipt.objects.filter(pk=one.pk).update(total=one.total + 1)


def test_refunds_orders_and_dunning_add_up(seeded):
    for payment in Payment.objects.annotate(refunded=Sum("refunds__amount")):
        assert (payment.refunded or 0) == payment.amount_refunded <= payment.amount_received
    for order in Order.objects.prefetch_related("payments"):
        totals = order_totals(payments=list(order.payments.all()))
        assert (order.amount_paid, order.amount_refunded) == (totals.paid, totals.refunded)
        if totals.paid and totals.refunded >= totals.paid:
            assert order.status == "refunded"
        elif totals.paid >= order.total:
            assert order.status == "paid" and order.balance == 0
        else:
            assert order.status == "failed" and order.balance == order.total
    for case in DunningCase.objects.all():
        assert (
            case.failed_payment.status == "failed" and case.failed_payment.order_id == case.order_id
        )
        if case.status == "recovered":
            assert case.amount_recovered == case.amount
            assert Payment.objects.filter(
                order_id=case.order_id,
                status__in=PAID_STATUSES,
                attempt_kind__in=["retry", "manual"],
            ).exists()
        assert case.next_action_at is None  # nothing for the scheduler to charge
    for attempt in DunningAttempt.objects.select_related("payment"):
        assert attempt.payment.attempt_kind == "retry"
        assert attempt.status == (
            "succeeded" if attempt.payment.status in PAID_STATUSES else "failed"
        )
    carried = Receipt.objects.filter(delivered_by__isnull=False).select_related("delivered_by")
    for receipt in carried:
        assert receipt.delivered_by.payment_id == receipt.payment_id
        assert receipt.delivered_by.kind == Notification.Kind.PAYMENT_CONFIRMED


def test_consent_chains_verify_and_csat_charts(seeded):
    _checked, problems = consent_chains_verify(lead_ids=None)
    assert problems == []
    weeks = csat_by_week(
        since=PaymentCsat.objects.earliest("answered_at").answered_at,
        until=PaymentCsat.objects.latest("answered_at").answered_at.replace(year=3000),
    )
    assert sum(w["count"] for w in weeks) == PaymentCsat.objects.count()
    assert PaymentCsat.objects.values("order").annotate(n=Count("id")).filter(n__gt=1).count() == 0


def test_the_app_carries_on_from_the_seed(seeded, settings, tmp_path):
    """The app's own code works on seeded rows: PDFs are made for a seeded receipt and credit
    note, and the next receipt it issues takes the next number of the year."""
    receipt = Receipt.objects.order_by("-issued_at").first()
    stored = document_render_store(model=Receipt, document_id=receipt.pk)
    assert stored.status == "stored" and stored.pdf_sha256
    note = CreditNote.objects.order_by("-issued_at").first()
    stored_note = document_render_store(model=CreditNote, document_id=note.pk)
    assert stored_note.status == "stored" and stored_note.pdf_sha256
    counter = DocumentCounter.objects.get(series=receipt.series, year=receipt.year)
    from receipts.services.issue import document_number_take

    with transaction.atomic():
        sequence, number = document_number_take(series=receipt.series, year=receipt.year)
        transaction.set_rollback(True)
    assert sequence == counter.last_number + 1
    assert re.fullmatch(rf"{receipt.series}-{receipt.year}-\d{{6}}", number)


def test_a_second_run_changes_nothing(seeded):
    before = {m: m.objects.count() for m in (Lead, Order, Payment, Receipt, Refund, PaymentCsat)}
    out = io.StringIO()
    call_command("seed_demo", "--scale", str(N), stdout=out)
    assert "kept the scale seed" in out.getvalue()
    assert {m: m.objects.count() for m in before} == before


def test_bad_scale_is_refused_and_changes_nothing():
    from django.core.management.base import CommandError

    for bad in ("0", "-5"):
        with pytest.raises(CommandError, match="whole number of payments"):
            call_command("seed_demo", "--scale", bad, stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("seed_demo", "--scale", "x", stdout=io.StringIO())
    assert not Payment.objects.exists()


def test_chunk_by_chunk_gives_the_same_invariants():
    """Many small chunks (as for a million payments): ids, numbering and counts still hold."""
    call_command("seed_demo", stdout=io.StringIO())
    counts = scale_seed(n=500, stdout=io.StringIO(), orders_per_chunk=37, receipts_per_chunk=29)
    assert Payment.objects.count() == counts["payments.Payment"] == 500
    orders = Order.objects.count()
    assert Payment.objects.filter(attempt_kind="checkout").count() == orders
    sequences = sorted(Receipt.objects.values_list("year", "sequence"))
    by_year = defaultdict(list)
    for year, sequence in sequences:
        by_year[year].append(sequence)
    for year, numbers in by_year.items():
        last = DocumentCounter.objects.get(series="R", year=year).last_number
        assert numbers == list(range(1, last + 1))
    assert Receipt.objects.count() == Payment.objects.filter(status__in=PAID_STATUSES).count()
    assert not Payment.objects.values("id").annotate(n=Count("receipt")).filter(n__gt=1).exists()
