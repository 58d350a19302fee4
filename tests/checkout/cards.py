"""Test cards as PaymentMethods: Stripe's test PaymentMethods (docs.stripe.com/testing), which
the Stripe peer knows as Stripe does, so no test sends a raw card number from the server. (The
browser tests type numbers into the Card Element, as a buyer would.)"""

import stripe
from django.conf import settings

VISA = "pm_card_visa"
# Saved without trouble, then declined on every charge.
DECLINED = "pm_card_chargeCustomerFail"
THREE_DS = "pm_card_authenticationRequired"
# Radar (devtools/localstripe_server.py gives charges Stripe's test-card verdicts).
ELEVATED_RISK = "pm_card_riskLevelElevated"
# 3D Secure when set up, and (the peer only) rated elevated by Radar.
ELEVATED_RISK_3DS = "pm_card_authenticationRequiredOnSetup"


def card_payment_method(test_payment_method: str = VISA) -> str:
    """A new PaymentMethod made from one of Stripe's test PaymentMethods (each use of a test id
    makes a new one, as at Stripe): the id a confirmed Card Element would give the page."""
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    return client.v1.payment_methods.retrieve(test_payment_method).id
