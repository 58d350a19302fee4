"""Dunning: following a failed payment back to a successful one (docs/dunning.md)."""

import environ

env = environ.Env()

# A checkout payment that failed opens a case only after this many minutes without a success:
# the buyer may still be on the page, trying another card.
DUNNING_CHECKOUT_GRACE_MINUTES = env.int("DUNNING_CHECKOUT_GRACE_MINUTES", default=30)
# How long a payment link (/pay/<token>/) works, unless the case closes first.
DUNNING_LINK_TTL_DAYS = env.int("DUNNING_LINK_TTL_DAYS", default=14)
# Retries per card across all cases in the window (card networks penalise more).
DUNNING_CARD_RETRY_CAP = env.int("DUNNING_CARD_RETRY_CAP", default=15)
DUNNING_CARD_RETRY_CAP_DAYS = env.int("DUNNING_CARD_RETRY_CAP_DAYS", default=30)
# The scheduler tick (beat `dunning-tick`): due cases claimed per statement, and case steps per
# broker message. A claimed case is leased for DUNNING_LEASE_SECONDS: if its worker dies, the
# case is due again after that (longer than the task time limit, CELERY_TASK_TIME_LIMIT).
DUNNING_CLAIM_BATCH = env.int("DUNNING_CLAIM_BATCH", default=2000)
DUNNING_STEPS_PER_MESSAGE = env.int("DUNNING_STEPS_PER_MESSAGE", default=1000)
DUNNING_TICK_MAX_CASES = env.int("DUNNING_TICK_MAX_CASES", default=200_000)
DUNNING_LEASE_SECONDS = env.int("DUNNING_LEASE_SECONDS", default=600)
# Looking for work that news never announced (a renewal that needs the buyer, a lost signal,
# a deposit balance falling due) runs at most this often inside the tick.
DUNNING_DISCOVER_EVERY_SECONDS = env.int("DUNNING_DISCOVER_EVERY_SECONDS", default=300)
# The buyer's timezone when neither their phone number nor their country tells it.
DUNNING_DEFAULT_TIMEZONE = env("DUNNING_DEFAULT_TIMEZONE", default="Europe/London")
# Card-expiry reminders for renewing subscriptions, this many days ahead (0 = off).
DUNNING_CARD_EXPIRY_REMINDER_DAYS = env.int("DUNNING_CARD_EXPIRY_REMINDER_DAYS", default=0)
# Abuse limits on the public payment-link pages (per IP per minute, and fresh-link requests per
# link per hour).
DUNNING_LINK_REQUESTS_PER_IP_PER_MINUTE = env.int(
    "DUNNING_LINK_REQUESTS_PER_IP_PER_MINUTE", default=60
)
DUNNING_FRESH_LINKS_PER_HOUR = env.int("DUNNING_FRESH_LINKS_PER_HOUR", default=3)
# The seller's bank details shown on the payment page for a bank transfer (empty: not offered).
DUNNING_BANK_ACCOUNT_NAME = env("DUNNING_BANK_ACCOUNT_NAME", default="Demo Seller Ltd")
DUNNING_BANK_IBAN = env("DUNNING_BANK_IBAN", default="GB33BUKB20201555555555")
DUNNING_BANK_BIC = env("DUNNING_BANK_BIC", default="BUKBGB22")
# A phone number buyers can call (shown on the payment page and in messages; empty: none).
DUNNING_SUPPORT_PHONE = env("DUNNING_SUPPORT_PHONE", default="")

# The hand-off (DESIGN.md §2b): checkout asks this callable, by name, whether dunning tells the
# buyer about a failed payment, so checkout's own `payment_failed` email is not sent as well.
# `f(*, order, payment) -> bool`. Empty: checkout always sends its own.
CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER = env(
    "CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER", default="dunning.handoff.dunning_owns_failure_notice"
)
