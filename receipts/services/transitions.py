"""The one place a receipt's or credit note's status changes (STYLE.md, State)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from checkout.notifications import notifications_for_payment_send
from receipts.models import DOCUMENT_TRANSITIONS, CreditNote, Receipt, ReceiptEvent

logger = logging.getLogger(__name__)

Document = Receipt | CreditNote


def document_transition(
    *,
    model: type[Receipt] | type[CreditNote],
    document_id: int,
    to_status: str,
    cause: str,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Document, bool]:
    """Move a document to `to_status` if DOCUMENT_TRANSITIONS allows it, and record the attempt
    (applied or refused) in its receipt's history. `fields` are set with an applied move.

    Side effects run on commit: a stored document tells checkout that the emails waiting for it
    can go.
    """
    with transaction.atomic():
        document = model.objects.select_for_update().get(pk=document_id)
        from_status = document.status
        applied = to_status in DOCUMENT_TRANSITIONS[from_status]
        if applied:
            update = {**(fields or {}), "status": to_status}
            for name, value in update.items():
                setattr(document, name, value)
            document.save(update_fields=list(update))
        else:
            logger.info("%s %s: %s -> %s refused", model.__name__, document, from_status, to_status)
        is_credit = isinstance(document, CreditNote)
        ReceiptEvent.objects.create(
            receipt_id=document.receipt_id if is_credit else document.pk,
            credit_note=document if is_credit else None,
            from_status=from_status,
            to_status=to_status,
            cause=cause,
            actor=actor if getattr(actor, "pk", None) else None,
            detail={**(detail or {}), "outcome": "applied" if applied else "refused"},
        )
        if applied and to_status == Receipt.Status.STORED:
            payment_id = document.receipt.payment_id if is_credit else document.payment_id
            transaction.on_commit(lambda: _release_waiting_emails(payment_id))
    return document, applied


def _release_waiting_emails(payment_id: int) -> None:
    notifications_for_payment_send(payment_id=payment_id)
