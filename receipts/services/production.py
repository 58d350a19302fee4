"""From snapshot to stored file: render the PDF with its Factur-X XML, store it through Django's
storage API with its sha256, and mark the document stored.

Rendering runs in the worker (receipts.tasks, under RECEIPTS_RENDER_*_TIME_LIMIT). A failure is
recorded on the document and in its history; the sweeper renders it again later.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db.models import F
from django.utils import timezone

from receipts.models import CreditNote, Receipt, ReceiptEvent
from receipts.services.issue import credit_notes_for_payment, receipt_issue
from receipts.services.transitions import document_transition

logger = logging.getLogger(__name__)


def documents_storage():
    return storages[settings.RECEIPTS_STORAGE]


def _storage_name(document: Receipt | CreditNote) -> str:
    # A random name: the file is never reachable by guessing from its number (local MEDIA_URL
    # serving included); downloads go through views that check access.
    return f"receipts/{document.series}/{document.year}/{uuid.uuid4().hex}.pdf"


def document_render_store(
    *,
    model: type[Receipt] | type[CreditNote],
    document_id: int,
    document: Receipt | CreditNote | None = None,
) -> Receipt | CreditNote:
    """Render and store the document's PDF once. Idempotent: a stored document is returned as
    it is, and of two concurrent renders only the first to finish is kept (the state move is
    made under the row lock). `document` is the row when the caller has just read it."""
    if document is None or document.pk != document_id:
        document = model.objects.get(pk=document_id)
    if document.status == Receipt.Status.STORED:
        return document
    try:
        # Imported here, inside the time limit: loading WeasyPrint is part of a cold render.
        from receipts.rendering.pdf import document_render

        rendered = document_render(document.snapshot)
        storage = documents_storage()
        name = storage.save(_storage_name(document), ContentFile(rendered.pdf))
    except BaseException as exc:  # the soft time limit too: recorded, then re-raised
        _render_failed(document, exc)
        raise
    document, applied = document_transition(
        model=model,
        document_id=document.pk,
        to_status=Receipt.Status.STORED,
        cause="stored",
        detail={"sha256": hashlib.sha256(rendered.pdf).hexdigest(), "bytes": len(rendered.pdf)},
        fields={
            "pdf_path": name,
            "pdf_sha256": hashlib.sha256(rendered.pdf).hexdigest(),
            "pdf_size": len(rendered.pdf),
            "stored_at": timezone.now(),
            "last_error": "",
        },
    )
    if not applied:
        storage.delete(name)  # another render stored it first
    return document


def _render_failed(document: Receipt | CreditNote, exc: BaseException) -> None:
    logger.exception("rendering %s failed", document.number)
    type(document).objects.filter(pk=document.pk).update(
        render_attempts=F("render_attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:1000]
    )
    is_credit = isinstance(document, CreditNote)
    ReceiptEvent.objects.create(
        receipt_id=document.receipt_id if is_credit else document.pk,
        credit_note=document if is_credit else None,
        from_status=document.status,
        to_status=document.status,
        cause="render_failed",
        detail={"error": f"{type(exc).__name__}: {exc}"[:300]},
    )


def receipt_produce(*, payment_id: int) -> Receipt:
    """The whole job for a successful payment: issue (number and snapshot), render, embed the
    Factur-X XML and store. Safe to run again at any point: each step is idempotent."""
    receipt = receipt_issue(payment_id=payment_id)
    return document_render_store(model=Receipt, document_id=receipt.pk, document=receipt)


def credit_notes_produce(*, payment_id: int) -> list[CreditNote]:
    """A stored credit note for every succeeded refund of the payment."""
    return [
        document_render_store(model=CreditNote, document_id=note.pk, document=note)
        for note in credit_notes_for_payment(payment_id=payment_id)
    ]
