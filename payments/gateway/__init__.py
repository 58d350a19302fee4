"""The only package that talks to Stripe.

It pins the API version, sends deterministic idempotency keys built from our own rows, sends only
the parameters the pinned version defines (the contract test checks every request against
stripe-python's types, DESIGN.md §2), maps StripeError to our own exceptions and returns our own
dataclasses, so no Stripe object leaks into the rest of the code.

Split by concern: `connection` (the client, time budget, idempotency keys, error translation),
`intents`, `setup_intents`, `customers` (and their cards), `refunds`, `webhooks` (signatures,
endpoints, the Events API), and `objects` (our exceptions and dataclasses, no `stripe` import).
Callers import from here: `from payments import gateway`, `gateway.payment_intent_create(...)`.
"""

from payments.gateway.connection import call_budget, client, installation_id
from payments.gateway.customers import (
    customer_create,
    payment_method_attach,
    payment_method_card,
    payment_method_customer,
)
from payments.gateway.intents import (
    payment_intent_cancel,
    payment_intent_capture,
    payment_intent_confirm,
    payment_intent_create,
    payment_intent_retrieve,
    payment_intents_recent,
)
from payments.gateway.objects import (
    CardDeclined,
    CardDetails,
    GatewayError,
    GatewayUnavailable,
    InvalidWebhook,
    MalformedWebhook,
    PaymentIntentResult,
    RefundResult,
    SetupIntentResult,
    WebhookEndpointResult,
    WebhookPayload,
    payment_intent_from_object,
    webhook_payload_from_event,
    webhook_payload_parse,
)
from payments.gateway.refunds import refund_create
from payments.gateway.setup_intents import setup_intent_create, setup_intent_retrieve
from payments.gateway.webhooks import (
    events_list,
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_endpoints_list,
    webhook_payload_verify,
    webhook_signature_verify,
)

__all__ = [
    "CardDeclined",
    "CardDetails",
    "GatewayError",
    "GatewayUnavailable",
    "InvalidWebhook",
    "MalformedWebhook",
    "PaymentIntentResult",
    "RefundResult",
    "SetupIntentResult",
    "WebhookEndpointResult",
    "WebhookPayload",
    "call_budget",
    "client",
    "customer_create",
    "events_list",
    "installation_id",
    "payment_intent_cancel",
    "payment_intent_capture",
    "payment_intent_confirm",
    "payment_intent_create",
    "payment_intent_from_object",
    "payment_intent_retrieve",
    "payment_intents_recent",
    "payment_method_attach",
    "payment_method_card",
    "payment_method_customer",
    "refund_create",
    "setup_intent_create",
    "setup_intent_retrieve",
    "webhook_endpoint_create",
    "webhook_endpoint_update",
    "webhook_endpoints_list",
    "webhook_payload_from_event",
    "webhook_payload_parse",
    "webhook_payload_verify",
    "webhook_signature_verify",
]
