"""Checkout: how long a checkout page stays valid, and the fraud velocity limits."""

import environ

env = environ.Env()

# A checkout token (one per page view, bound to the buyer's session) expires after this.
CHECKOUT_TOKEN_TTL_SECONDS = env.int("CHECKOUT_TOKEN_TTL_SECONDS", default=2 * 60 * 60)
# Failed payment attempts allowed per email, IP address and card in the window before the
# checkout is blocked and the order flagged for review.
CHECKOUT_VELOCITY_WINDOW_SECONDS = env.int("CHECKOUT_VELOCITY_WINDOW_SECONDS", default=60 * 60)
CHECKOUT_VELOCITY_MAX_FAILED_PER_EMAIL = env.int(
    "CHECKOUT_VELOCITY_MAX_FAILED_PER_EMAIL", default=5
)
CHECKOUT_VELOCITY_MAX_FAILED_PER_IP = env.int("CHECKOUT_VELOCITY_MAX_FAILED_PER_IP", default=10)
CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD = env.int("CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD", default=3)
# Requests to the card endpoints per IP per minute (a plain abuse limit, on the Redis cache).
CHECKOUT_REQUESTS_PER_IP_PER_MINUTE = env.int("CHECKOUT_REQUESTS_PER_IP_PER_MINUTE", default=60)
# The largest amount, in minor units, any offer may charge: Stripe's limit is 8 digits.
CHECKOUT_MAX_AMOUNT = 99_999_999
# The smallest amount, in minor units, Stripe accepts for one charge in each currency (Stripe's
# "Minimum and maximum charge amounts" table, docs.stripe.com/currencies). Below it Stripe answers
# `amount_too_small` whatever the card, so offers, quotes and checkouts refuse such amounts first.
# A currency not listed here gets no floor beyond one minor unit: a fixed number of minor units
# means very different money from one currency to the next (50 of them is ¥50, about 30 US
# cents, but ₩50 is under 5), and Stripe's real floor for it depends on the day's rate to the
# account's settlement currency. Add a currency here before selling in it.
CHECKOUT_MIN_AMOUNTS = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50, "CZK": 1500,
    "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50, "JPY": 50, "MXN": 1000,
    "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200, "SEK": 300, "SGD": 50, "THB": 1000,
}  # fmt: skip
# Payments at or above this Radar risk score put the order into manual review.
CHECKOUT_RADAR_REVIEW_SCORE = env.int("CHECKOUT_RADAR_REVIEW_SCORE", default=75)
# How long the "How easy was paying?" link in the payment-confirmed email stays valid.
CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS = env.int(
    "CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS", default=30 * 24 * 60 * 60
)
