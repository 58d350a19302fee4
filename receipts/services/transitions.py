"""The one place a receipt's or credit note's status changes (STYLE.md, State)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from checkout.notifications import notifications_for_payment_send
from config.transitions import Outcome, transition
from receipts.models import CREDIT_NOTE_MACHINE, RECEIPT_MACHINE, CreditNote, Receipt

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
    in its receipt's history, whatever the outcome. `fields` are set only with an applied move
    (a second render of a stored document changes nothing; its caller deletes the extra file).

    Side effects run on commit: a stored document tells checkout that the emails waiting for it
    can go.
    """
    machine = CREDIT_NOTE_MACHINE if model is CreditNote else RECEIPT_MACHINE

    def on_apply(document: Document, from_status: str) -> dict[str, Any]:
        return dict(fields or {})

    def after_commit(document: Document, from_status: str) -> None:
        if to_status == Receipt.Status.STORED:
            is_credit = isinstance(document, CreditNote)
            _release_waiting_emails(
                document.receipt.payment_id if is_credit else document.payment_id
            )

    with transaction.atomic():
        document = model.objects.select_for_update().get(pk=document_id)
        # A credit note's history is its receipt's.
        history = {"receipt_id": document.receipt_id} if model is CreditNote else {}
        document, outcome = transition(
            machine,
            instance=document,
            to_status=to_status,
            cause=cause,
            actor=actor,
            detail=detail,
            on_apply=on_apply,
            after_commit=after_commit,
            history=history,
        )
    return document, outcome == Outcome.APPLIED


def _release_waiting_emails(payment_id: int) -> None:
    notifications_for_payment_send(payment_id=payment_id)
