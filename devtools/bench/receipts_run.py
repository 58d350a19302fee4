"""The receipts bench, run in one process against the bench's throwaway database and storage
(devtools/bench/scenarios/receipts.py starts it with the bench's environment).

1. Receipt generation, warm: `receipt_produce` for a paid payment (snapshot, gapless number,
   render, Factur-X XML and embedding, storage with sha256, the state move and its history),
   against a raw WeasyPrint render of the same HTML in the same process (`HTML(...).write_pdf()`
   with WeasyPrint's defaults, the stylesheet read from disk). The two are interleaved, one of
   each per round, so both see the same machine. p50 and p95 of each, and their ratios.
2. The ZIP export (PDFs and CSV index) of EXPORT_COUNT stored receipts: documents per second.

Prints one JSON object on the last line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _paid_payments(count: int, *, offer) -> list[int]:
    from checkout.models import Order
    from payments.models import Customer, Payment
    from payments.services import payment_transition

    ids = []
    for n in range(count):
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        order = Order.objects.create(
            reference=f"O-BENCH{uuid.uuid4().hex[:10].upper()}",
            offer=offer,
            email=email,
            name=f"Bench Buyer {n}",
            billing_country="DE" if n % 2 else "GB",
            currency="EUR",
            subtotal=10_000,
            tax=2_000,
            total=12_000,
            amount_due_now=12_000,
            lines=[
                {"kind": "offer", "name": offer.name, "quantity": 1, "unit_amount": 12_000,
                 "subtotal": 10_000, "tax": 2_000, "total": 12_000, "tax_rate_bp": 2000,
                 "tax_label": "VAT", "currency": "EUR"},
            ],
        )  # fmt: skip
        customer = Customer.objects.create(
            email=email, name=order.name, payment_method_id=f"pm_bench_{n}",
            card_brand="visa", card_last4="4242",
        )  # fmt: skip
        payment = Payment.objects.create(
            order=order, customer=customer, idempotency_key=f"bench:{uuid.uuid4().hex}",
            stripe_payment_intent_id=f"pi_bench{uuid.uuid4().hex[:20]}", amount=12_000,
            currency="eur", payment_method_id=customer.payment_method_id,
        )  # fmt: skip
        payment_transition(
            payment_id=payment.pk,
            to_status=Payment.Status.SUCCEEDED,
            cause="bench",
            fields={"amount_received": 12_000, "risk_level": "normal", "risk_score": 5},
        )
        ids.append(payment.pk)
    return ids


def generation(rounds: int) -> dict:
    from django.contrib.staticfiles import finders
    from weasyprint import HTML

    from checkout.models import Offer
    from receipts.models import Receipt
    from receipts.rendering.pdf import document_html
    from receipts.services.production import receipt_produce

    offer = Offer.objects.create(
        name="Bench course", slug=f"bench-{uuid.uuid4().hex[:8]}", price_amount=12_000,
        currency="EUR",
    )  # fmt: skip
    warm = 10
    payments = _paid_payments(warm + rounds, offer=offer)
    static_dir = os.path.dirname(os.path.dirname(finders.find("receipts/document.css")))
    base_url = f"file://{static_dir}/"
    ours, raw = [], []
    for n, payment_id in enumerate(payments):
        start = time.perf_counter()
        receipt = receipt_produce(payment_id=payment_id)
        produced = time.perf_counter() - start
        assert receipt.status == Receipt.Status.STORED
        # The same HTML, rendered raw: WeasyPrint's defaults, no PDF/A, no XML, no database.
        html = document_html(receipt.snapshot)
        start = time.perf_counter()
        HTML(string=html, base_url=base_url).write_pdf()
        rendered = time.perf_counter() - start
        if n >= warm:
            ours.append(produced * 1000)
            raw.append(rendered * 1000)
    return {
        "rounds": rounds,
        "ours_p50": statistics.median(ours),
        "ours_p95": _percentile(ours, 0.95),
        "raw_p50": statistics.median(raw),
        "raw_p95": _percentile(raw, 0.95),
    }


def export(count: int) -> dict:
    """EXPORT_COUNT stored receipts (rows made directly, each with its own stored PDF: the
    generation above is what makes them in real life), then one export timed end to end."""
    from django.core.files.base import ContentFile
    from django.db import transaction
    from django.utils import timezone

    from payments.models import Payment
    from receipts.models import Receipt, ReceiptExport
    from receipts.services.export import receipt_export_build
    from receipts.services.production import documents_storage

    template = Receipt.objects.order_by("pk").first()
    storage = documents_storage()
    with storage.open(template.pdf_path, "rb") as f:
        pdf = f.read()
    now = timezone.now()
    payments = Payment.objects.bulk_create(
        Payment(
            order=template.order,
            idempotency_key=f"bench:export:{uuid.uuid4().hex}",
            amount=12_000,
            currency="eur",
            amount_received=12_000,
            status=Payment.Status.SUCCEEDED,
            succeeded_at=now,
        )
        for _ in range(count)
    )
    rows = []
    for n, payment in enumerate(payments, start=1):
        path = storage.save(f"receipts/B/{template.year}/{uuid.uuid4().hex}.pdf", ContentFile(pdf))
        rows.append(
            Receipt(
                series="B",
                year=template.year,
                sequence=n,
                number=f"B-{template.year}-{n:06d}",
                issued_at=now,
                snapshot=template.snapshot,
                currency="EUR",
                net=10_000,
                tax=2_000,
                total=12_000,
                buyer_email=template.buyer_email,
                buyer_name=f"Bench Buyer {n}",
                status=Receipt.Status.STORED,
                pdf_path=path,
                pdf_sha256=template.pdf_sha256,
                pdf_size=len(pdf),
                stored_at=now,
                payment=payment,
                order=template.order,
            )
        )
    with transaction.atomic():
        Receipt.objects.bulk_create(rows, batch_size=1000)
    today = timezone.localdate()
    job = ReceiptExport.objects.create(date_from=today, date_to=today)
    start = time.perf_counter()
    job = receipt_export_build(export_id=job.pk)
    seconds = time.perf_counter() - start
    assert job.status == ReceiptExport.Status.DONE, job.error
    return {
        "documents": job.documents_done,
        "seconds": seconds,
        "per_second": job.documents_done / seconds,
        "zip_mb": job.file_size / 1e6,
    }


def main() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    django.setup()
    logging_off()
    rounds = int(os.environ.get("BENCH_RECEIPTS_ROUNDS", "60"))
    count = int(os.environ.get("BENCH_RECEIPTS_EXPORT", "10000"))
    result = {"generation": generation(rounds), "export": export(count)}
    print(json.dumps(result))
    return 0


def logging_off() -> None:
    import logging

    logging.getLogger("factur-x").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
