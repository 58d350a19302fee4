from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from payments.models import Discrepancy, Payment

logger = logging.getLogger(__name__)


def discrepancy_open(
    *,
    kind: str,
    order_id: int | None,
    payment_id: int | None,
    amount: int = 0,
    currency: str = "",
    detail: dict[str, Any] | None = None,
    owner: Any = None,
) -> tuple[Discrepancy, bool]:
    """Open a discrepancy once per (kind, payment); detection may run again on redelivery.

    Returns the discrepancy and whether it was newly opened.
    """
    lookup = {"kind": kind, "payment_id": payment_id}
    if payment_id is None:
        lookup["order_id"] = order_id
        existing = Discrepancy.objects.filter(**lookup, status=Discrepancy.Status.OPEN).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            return Discrepancy.objects.get_or_create(
                **lookup,
                defaults={
                    "order_id": order_id,
                    "amount": amount,
                    "currency": currency.lower(),
                    "detail": detail or {},
                    "owner": owner if getattr(owner, "pk", None) else None,
                },
            )
    except IntegrityError:
        return Discrepancy.objects.get(**lookup), False


def payment_mismatch_check(*, payment: Payment, amount: int, currency: str) -> Discrepancy | None:
    """Open a discrepancy when Stripe's intent is not for the amount and currency we asked."""
    currency = (currency or "").lower()
    if currency and currency != payment.currency.lower():
        kind = Discrepancy.Kind.CURRENCY_MISMATCH
    elif amount and amount != payment.amount:
        kind = Discrepancy.Kind.AMOUNT_MISMATCH
    else:
        return None
    discrepancy, opened = discrepancy_open(
        kind=kind,
        order_id=payment.order_id,
        payment_id=payment.pk,
        amount=amount,
        currency=currency or payment.currency,
        detail={
            "expected_amount": payment.amount,
            "expected_currency": payment.currency,
            "stripe_amount": amount,
            "stripe_currency": currency,
            "payment_intent": payment.stripe_payment_intent_id or "",
        },
    )
    if opened:
        logger.warning("payment %s: %s (%s %s)", payment.pk, kind, amount, currency)
    return discrepancy
