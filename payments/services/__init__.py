"""Every write to payments goes through these services (split by concern)."""

from payments.services.charge import (
    CardNotProven,
    PaymentMismatch,
    customer_card_prove,
    customer_card_save,
    customer_ensure,
    customer_guest_create,
    customer_setup_intent_start,
    customer_stripe_ensure,
    payment_abandon,
    payment_create_unanswered,
    payment_prepare,
    payment_refresh,
    payment_risk_assess,
    payment_risk_unknown,
    payment_start,
)
from payments.services.transitions import payment_apply_intent, payment_transition

__all__ = [
    "CardNotProven",
    "PaymentMismatch",
    "customer_card_prove",
    "customer_card_save",
    "customer_ensure",
    "customer_guest_create",
    "customer_setup_intent_start",
    "customer_stripe_ensure",
    "payment_abandon",
    "payment_apply_intent",
    "payment_create_unanswered",
    "payment_prepare",
    "payment_refresh",
    "payment_risk_assess",
    "payment_risk_unknown",
    "payment_start",
    "payment_transition",
]
