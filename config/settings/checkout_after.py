"""After payment: access, customer emails, the customer portal (docs/checkout-after-payment.md)."""

import environ

env = environ.Env()

# How long a portal magic link (/account/<token>/) stays valid.
PORTAL_LINK_MAX_AGE_SECONDS = env.int("PORTAL_LINK_MAX_AGE_SECONDS", default=24 * 60 * 60)
# Magic-link requests allowed per email address and per IP address in the window.
PORTAL_LINK_REQUESTS_PER_EMAIL = env.int("PORTAL_LINK_REQUESTS_PER_EMAIL", default=3)
PORTAL_LINK_REQUESTS_PER_IP = env.int("PORTAL_LINK_REQUESTS_PER_IP", default=20)
PORTAL_LINK_REQUEST_WINDOW_SECONDS = env.int("PORTAL_LINK_REQUEST_WINDOW_SECONDS", default=60 * 60)
# The locale amounts are formatted in, for people (Babel), in emails and portal pages.
PORTAL_MONEY_LOCALE = env("PORTAL_MONEY_LOCALE", default="en")
# A dotted path to `f(*, email: str, token: str) -> list[dict]` listing a buyer's receipts for
# the portal (keys: number, label, issued_at, url). checkout never imports receipts
# (DESIGN.md §2b), so config names it: config/settings/receipts.py sets it.
PORTAL_RECEIPTS_SELECTOR = env("PORTAL_RECEIPTS_SELECTOR", default="")
