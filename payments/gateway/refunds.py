"""Refunds."""

from __future__ import annotations

from typing import Any

from payments.gateway.connection import client, request_options, stripe_errors_translated
from payments.gateway.objects import RefundResult, _id_of


@stripe_errors_translated
def refund_create(
    *,
    payment_intent_id: str,
    amount: int,
    idempotency_key: str,
    metadata: dict[str, str],
    reason: str = "",
) -> RefundResult:
    """Refund part or all of a payment. `reason` is Stripe's enum (`requested_by_customer`,
    `duplicate`, `fraudulent`); our own words go in `metadata` and our Refund row."""
    params: dict[str, Any] = {
        "payment_intent": payment_intent_id,
        "amount": amount,
        "metadata": metadata,
    }
    if reason:
        params["reason"] = reason
    refund = client().v1.refunds.create(params=params, options=request_options(idempotency_key))
    data = refund.to_dict()
    return RefundResult(
        id=data["id"],
        status=data.get("status") or "succeeded",
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        payment_intent=_id_of(data.get("payment_intent")),
    )
