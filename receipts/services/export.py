"""Finance's export: every receipt and credit note issued in a date range, as a ZIP of the PDFs
with a CSV index (number, type, date, buyer, net, tax, total, currency, sha256), built by a
background job. The admin shows its progress and offers the file when it is done.

The range is in RECEIPTS_TIME_ZONE, the calendar the documents are dated and numbered in. A
document issued but not yet stored is listed in the index with an empty sha256 (and no PDF), so
the numbers in an export never show an unexplained gap.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
import uuid
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from config.audit import audit_log_record
from config.celery import enqueue_on_commit
from receipts.models import EXPORT_TRANSITIONS, CreditNote, Receipt, ReceiptExport
from receipts.services.production import documents_storage
from receipts.tasks import receipt_export_build_task

logger = logging.getLogger(__name__)

CSV_COLUMNS = [
    "number", "type", "date", "buyer", "buyer_email", "net", "tax", "total", "currency",
    "sha256", "refers_to", "file",
]  # fmt: skip
PROGRESS_EVERY = 250
LEASE = timedelta(minutes=15)


class ExportRefused(ValueError):
    """The date range is not one an export can be made for."""


def receipt_export_request(*, date_from: date, date_to: date, actor: Any) -> ReceiptExport:
    if date_from > date_to:
        raise ExportRefused("The start date must be on or before the end date.")
    with transaction.atomic():
        export = ReceiptExport.objects.create(
            date_from=date_from,
            date_to=date_to,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_log_record(
            actor=actor,
            action="receipts.export_requested",
            target=export,
            detail={"from": date_from.isoformat(), "to": date_to.isoformat()},
        )

        enqueue_on_commit(receipt_export_build_task, export.pk)
    return export


def receipt_export_transition(
    *, export_id: int, to_status: str, cause: str, fields: dict[str, Any] | None = None
) -> tuple[ReceiptExport, bool]:
    """The one place an export's status changes; the history is the audit log."""
    with transaction.atomic():
        export = ReceiptExport.objects.select_for_update().get(pk=export_id)
        from_status = export.status
        applied = to_status in EXPORT_TRANSITIONS[from_status]
        if applied:
            update = {**(fields or {}), "status": to_status}
            for name, value in update.items():
                setattr(export, name, value)
            export.save(update_fields=list(update))
        audit_log_record(
            actor=None,
            action="receipts.export_status",
            target=export,
            detail={
                "from": from_status,
                "to": to_status,
                "cause": cause,
                "outcome": "applied" if applied else "refused",
            },
        )
    return export, applied


def _claim(export_id: int) -> ReceiptExport | None:
    export = ReceiptExport.objects.get(pk=export_id)
    if export.status == ReceiptExport.Status.RUNNING:
        if export.started_at and export.started_at > timezone.now() - LEASE:
            return None  # another worker is building it
        receipt_export_transition(
            export_id=export_id, to_status=ReceiptExport.Status.QUEUED, cause="worker_lost"
        )
    export, applied = receipt_export_transition(
        export_id=export_id,
        to_status=ReceiptExport.Status.RUNNING,
        cause="build_started",
        fields={"started_at": timezone.now(), "documents_done": 0},
    )
    return export if applied else None


def export_documents(*, date_from: date, date_to: date) -> list[Receipt | CreditNote]:
    zone = ZoneInfo(settings.RECEIPTS_TIME_ZONE)
    start = datetime.combine(date_from, time.min, tzinfo=zone)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    fields = [
        "pk", "series", "year", "sequence", "number", "issued_at", "buyer_name", "buyer_email",
        "net", "tax", "total", "currency", "pdf_path", "pdf_sha256", "status",
    ]  # fmt: skip
    receipts = Receipt.objects.filter(issued_at__gte=start, issued_at__lt=end).only(*fields)
    notes = (
        CreditNote.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("receipt")
        .only(*fields, "receipt__number")
    )
    documents: list[Receipt | CreditNote] = [
        *receipts.order_by("series", "year", "sequence"),
        *notes.order_by("series", "year", "sequence"),
    ]
    return documents


def _csv_safe(value: str) -> str:
    # A cell a spreadsheet would read as a formula is written as text (OWASP CSV injection).
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\0") else value


def _amount(amount: int, currency: str) -> str:
    from babel.numbers import get_currency_precision

    exponent = get_currency_precision(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def _row(document: Receipt | CreditNote, file: str) -> list[str]:
    is_credit = isinstance(document, CreditNote)
    local = document.issued_at.astimezone(ZoneInfo(settings.RECEIPTS_TIME_ZONE)).date()
    return [
        document.number,
        "credit_note" if is_credit else "receipt",
        local.isoformat(),
        _csv_safe(document.buyer_name),
        _csv_safe(document.buyer_email),
        _amount(document.net, document.currency),
        _amount(document.tax, document.currency),
        _amount(document.total, document.currency),
        document.currency,
        document.pdf_sha256,
        document.receipt.number if is_credit else "",
        file,
    ]


def receipt_export_build(*, export_id: int) -> ReceiptExport:
    """Build the ZIP (idempotent: a finished export is left as it is)."""
    export = _claim(export_id)
    if export is None:
        return ReceiptExport.objects.get(pk=export_id)
    try:
        return _build(export)
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        export, _ = receipt_export_transition(
            export_id=export_id,
            to_status=ReceiptExport.Status.FAILED,
            cause="build_failed",
            fields={"error": f"{type(exc).__name__}: {exc}"[:1000], "finished_at": timezone.now()},
        )
        return export


def _build(export: ReceiptExport) -> ReceiptExport:
    documents = export_documents(date_from=export.date_from, date_to=export.date_to)
    ReceiptExport.objects.filter(pk=export.pk).update(documents_total=len(documents))
    storage = documents_storage()
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow(CSV_COLUMNS)
    with tempfile.TemporaryFile() as spool:
        # PDFs are compressed already: stored as they are, which is several times quicker.
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
            for done, document in enumerate(documents, start=1):
                name = ""
                if document.pdf_path:
                    folder = "credit-notes" if isinstance(document, CreditNote) else "receipts"
                    name = f"{folder}/{document.filename}"
                    with storage.open(document.pdf_path, "rb") as pdf:
                        archive.writestr(name, pdf.read())
                writer.writerow(_row(document, name))
                if done % PROGRESS_EVERY == 0:
                    ReceiptExport.objects.filter(pk=export.pk).update(documents_done=done)
            archive.writestr("index.csv", index.getvalue().encode("utf-8-sig"))
        spool.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: spool.read(1 << 20), b""):
            digest.update(chunk)
        size = spool.tell()
        spool.seek(0)
        path = storage.save(f"receipts/exports/{uuid.uuid4().hex}.zip", File(spool))
    export, _ = receipt_export_transition(
        export_id=export.pk,
        to_status=ReceiptExport.Status.DONE,
        cause="built",
        fields={
            "documents_done": len(documents),
            "file_path": path,
            "file_sha256": digest.hexdigest(),
            "file_size": size,
            "finished_at": timezone.now(),
        },
    )
    return export
