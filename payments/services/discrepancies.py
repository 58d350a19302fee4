from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from payments.models import Discrepancy


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
