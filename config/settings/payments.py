"""Payments: the webhook inbox, its sweeper and dead letters, and reconciliation with Stripe."""

import environ

env = environ.Env()

# An inbox event is retried with exponential backoff (base * 2**(attempt-1), capped) and is
# `dead` after this many attempts; finance replays dead events from the admin.
PAYMENTS_WEBHOOK_MAX_ATTEMPTS = env.int("PAYMENTS_WEBHOOK_MAX_ATTEMPTS", default=8)
PAYMENTS_WEBHOOK_BACKOFF_SECONDS = env.int("PAYMENTS_WEBHOOK_BACKOFF_SECONDS", default=30)
PAYMENTS_WEBHOOK_BACKOFF_MAX_SECONDS = env.int("PAYMENTS_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600)
# A `processing` event whose worker vanished is re-driven after this lease. It is longer than
# CELERY_TASK_TIME_LIMIT, so a slow but live handler is never run twice at the same time.
PAYMENTS_WEBHOOK_LEASE_SECONDS = env.int("PAYMENTS_WEBHOOK_LEASE_SECONDS", default=330)
# A `received` event not processed within this long is assumed lost in the broker.
PAYMENTS_WEBHOOK_SWEEP_GRACE_SECONDS = env.int("PAYMENTS_WEBHOOK_SWEEP_GRACE_SECONDS", default=60)
PAYMENTS_WEBHOOK_SWEEP_BATCH = env.int("PAYMENTS_WEBHOOK_SWEEP_BATCH", default=200)
# Payments in processing, requires_action or unknown for longer than this are checked at Stripe,
# each at most once per this interval.
PAYMENTS_RECONCILE_AFTER_SECONDS = env.int("PAYMENTS_RECONCILE_AFTER_SECONDS", default=900)
PAYMENTS_RECONCILE_BATCH = env.int("PAYMENTS_RECONCILE_BATCH", default=100)
# Payments that succeeded within this many days are checked against Stripe's refunded and
# disputed amounts, each at most once per the interval (refunds and disputes made in Stripe's
# dashboard, or whose events were lost, are found within a day).
PAYMENTS_RECHECK_PAID_DAYS = env.int("PAYMENTS_RECHECK_PAID_DAYS", default=30)
PAYMENTS_RECHECK_PAID_EVERY_SECONDS = env.int(
    "PAYMENTS_RECHECK_PAID_EVERY_SECONDS", default=24 * 3600
)
# How long a card hold (an uncaptured authorisation) lasts before Stripe cancels it: 7 days
# for most online card payments. The staff home warns STAFF_HOME_HOLD_WARNING_HOURS before.
PAYMENT_HOLD_LIFETIME_DAYS = env.int("PAYMENT_HOLD_LIFETIME_DAYS", default=7)
