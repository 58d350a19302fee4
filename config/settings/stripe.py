"""Stripe. Empty STRIPE_API_BASE and STRIPE_JS_URL mean real Stripe."""

import environ

env = environ.Env()

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_localstripe")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_localstripe")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_localstripe_dev")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="") or "https://js.stripe.com/v3/"
# Pinned so event and object shapes do not drift with the account's default version.
STRIPE_API_VERSION = env("STRIPE_API_VERSION", default="2026-10-28.endive")
# Stripe's tolerance is 300 s into the past; we also refuse timestamps this far in the future.
STRIPE_WEBHOOK_TOLERANCE = 300
STRIPE_WEBHOOK_MAX_BYTES = 1_048_576
# One call's timeouts outside a web request (workers, commands), and the SDK's retries there
# (safe: every POST carries our idempotency key).
STRIPE_CONNECT_TIMEOUT_SECONDS = env.int("STRIPE_CONNECT_TIMEOUT_SECONDS", default=3)
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=20)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
# Every Stripe call made while answering one web request shares this budget (connect, read,
# no retries). It must stay below the web worker's timeout (gunicorn --timeout in the
# Dockerfile and docker-compose.yml, 30 s): a hung Stripe gives the buyer a calm answer.
STRIPE_WEB_BUDGET_SECONDS = env.int("STRIPE_WEB_BUDGET_SECONDS", default=12)
