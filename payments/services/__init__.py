"""Every write to payments goes through these services (split by concern)."""

from payments.services.charge import (
    PaymentMismatch,
    customer_card_save,
    customer_ensure,
    customer_setup_intent_start,
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
    "PaymentMismatch",
    "customer_card_save",
    "customer_ensure",
    "customer_setup_intent_start",
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
