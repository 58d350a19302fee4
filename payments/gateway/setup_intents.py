"""SetupIntents: save a card for later (and off-session) charges, `confirmCardSetup` in the page."""

from __future__ import annotations

from payments.gateway.connection import client, request_options, stripe_errors_translated
from payments.gateway.objects import SetupIntentResult, _setup_intent_result


@stripe_errors_translated
def setup_intent_create(
    *, customer: str, idempotency_key: str, metadata: dict[str, str]
) -> SetupIntentResult:
    si = client().v1.setup_intents.create(
        params={
            "customer": customer,
            "allowed_payment_method_types": ["card"],
            "usage": "off_session",
            "metadata": metadata,
        },
        options=request_options(idempotency_key),
    )
    return _setup_intent_result(si)


@stripe_errors_translated
def setup_intent_retrieve(setup_intent_id: str) -> SetupIntentResult:
    si = client().v1.setup_intents.retrieve(setup_intent_id, options=request_options())
    return _setup_intent_result(si)
