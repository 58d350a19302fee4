"""Test cards as PaymentMethods, made the way the Card Element would (tests only talk to Stripe
directly; app code goes through payments/gateway.py)."""

import stripe
from django.conf import settings

VISA = "4242424242424242"
DECLINED = "4000000000000341"  # attaches, then is declined on the PaymentIntent
THREE_DS = "4000002760003184"
# Radar (devtools/localstripe_server.py gives charges Stripe's test-card verdicts).
ELEVATED_RISK = "4000000000009235"
ELEVATED_RISK_3DS = "4000002500003155"  # localstripe only: 3DS, then rated elevated


def card_payment_method(number: str = VISA) -> str:
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return pm.id
