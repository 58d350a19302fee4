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
# Payments at or above this Radar risk score put the order into manual review.
CHECKOUT_RADAR_REVIEW_SCORE = env.int("CHECKOUT_RADAR_REVIEW_SCORE", default=75)
