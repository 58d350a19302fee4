"""Customers and their saved cards (payment methods)."""

from __future__ import annotations

import stripe

from payments.gateway.connection import client, request_options, stripe_errors_translated
from payments.gateway.objects import CardDetails, _id_of


@stripe_errors_translated
def customer_create(
    *, email: str, name: str, metadata: dict[str, str], idempotency_key: str
) -> str:
    customer = client().v1.customers.create(
        params={"email": email, "name": name, "metadata": metadata},
        options=request_options(idempotency_key),
    )
    return customer.id


@stripe_errors_translated
def payment_method_card(payment_method_id: str) -> CardDetails:
    pm = client().v1.payment_methods.retrieve(payment_method_id, options=request_options())
    card = (pm.to_dict().get("card")) or {}
    return CardDetails(
        payment_method=pm.id,
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


@stripe_errors_translated
def payment_method_attach(payment_method_id: str, *, customer: str, idempotency_key: str) -> None:
    """Attach a card to a customer; already attached to it (its SetupIntent did) is fine."""
    try:
        client().v1.payment_methods.attach(
            payment_method_id,
            params={"customer": customer},
            options=request_options(idempotency_key),
        )
    except stripe.InvalidRequestError as exc:
        # Already attached is fine only when it is to this customer: a card of another
        # customer is never taken over (D4).
        if (
            "already" not in str(exc).lower()
            or payment_method_customer(payment_method_id) != customer
        ):
            raise


@stripe_errors_translated
def payment_method_customer(payment_method_id: str) -> str:
    """The customer a card is attached to, or ""."""
    pm = client().v1.payment_methods.retrieve(payment_method_id, options=request_options())
    return _id_of(pm.to_dict().get("customer"))
