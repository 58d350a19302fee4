"""Receipts and credit notes (docs/receipts.md): the seller they name, numbering, rendering,
delivery and retention.

The SELLER_* values are printed on every receipt and written into its e-invoice. The defaults
here are for `make run` and the tests only; production settings have none for what must be real
(config/settings/production.py).
"""

import environ

env = environ.Env()

# The seller (DESIGN.md §5). SELLER_ADDRESS is the street line(s), one per line ("\n" or "|").
SELLER_LEGAL_NAME = env("SELLER_LEGAL_NAME", default="Demo Seller Ltd")
SELLER_ADDRESS = env("SELLER_ADDRESS", default="1 Example Street")
SELLER_POSTCODE = env("SELLER_POSTCODE", default="EC1A 1AA")
SELLER_CITY = env("SELLER_CITY", default="London")
# ISO 3166-1 alpha-2: the e-invoice needs the seller's country as a code (EN 16931 BT-40).
SELLER_COUNTRY = env("SELLER_COUNTRY", default="GB")
# The VAT identification number, with its country prefix (EN 16931 BT-31).
SELLER_TAX_ID = env("SELLER_TAX_ID", default="GB000000000")
# Optional: a national tax number (BT-32, e.g. a German Steuernummer) and a company register
# number (BT-30), printed when set.
SELLER_TAX_NUMBER = env("SELLER_TAX_NUMBER", default="")
SELLER_REGISTRATION_ID = env("SELLER_REGISTRATION_ID", default="")
SELLER_SUPPORT_EMAIL = env("SELLER_SUPPORT_EMAIL", default="support@example.com")

# Number series: R-2026-000001 and CN-2026-000001, gapless per series and year.
RECEIPTS_SERIES = env("RECEIPTS_SERIES", default="R")
RECEIPTS_CREDIT_NOTE_SERIES = env("RECEIPTS_CREDIT_NOTE_SERIES", default="CN")
# The time zone whose calendar year numbers a document and dates it (the seller's books).
RECEIPTS_TIME_ZONE = env("RECEIPTS_TIME_ZONE", default="Europe/London")
# Languages a receipt is written in; a buyer billed elsewhere gets the first one.
RECEIPTS_LANGUAGES = env.list("RECEIPTS_LANGUAGES", default=["en", "de"])
# Time zones for billing countries that span several (the rest use their only or first zone).
RECEIPTS_COUNTRY_TIME_ZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow",
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
}
# EN 16931 VAT category for a line taxed at 0 % (S is used above 0 %). Z (zero rated) by
# default; the seller's tax adviser decides whether E, O, AE or G fits their sales instead.
RECEIPTS_ZERO_TAX_CATEGORY = env("RECEIPTS_ZERO_TAX_CATEGORY", default="Z")

# Where the PDFs and exports are stored (a STORAGES alias: S3 through django-storages in
# production, var/media/ locally).
RECEIPTS_STORAGE = env("RECEIPTS_STORAGE", default="default")
# How long receipts and credit notes are kept. Germany keeps invoices 8 years (since 2025),
# France 10: the longest common period is the default. Nothing deletes them before; nothing
# in the admin deletes them at all.
RECEIPTS_RETENTION_YEARS = env.int("RECEIPTS_RETENTION_YEARS", default=10)

# Rendering runs in the worker under these limits (seconds): a soft limit stops the render and
# records the failure, the hard one kills the worker child.
RECEIPTS_RENDER_SOFT_TIME_LIMIT = env.float("RECEIPTS_RENDER_SOFT_TIME_LIMIT", default=20.0)
RECEIPTS_RENDER_TIME_LIMIT = env.float("RECEIPTS_RENDER_TIME_LIMIT", default=30.0)
# A data: URL in a receipt's HTML larger than this is refused by the fetcher.
RECEIPTS_DATA_URL_MAX_BYTES = env.int("RECEIPTS_DATA_URL_MAX_BYTES", default=16_384)
# A document whose PDF is not stored after this long is rendered again by the sweeper.
RECEIPTS_RENDER_RETRY_SECONDS = env.int("RECEIPTS_RENDER_RETRY_SECONDS", default=120)
RECEIPTS_RENDER_MAX_ATTEMPTS = env.int("RECEIPTS_RENDER_MAX_ATTEMPTS", default=8)
# A receipt not on any email this long after it was stored gets an email of its own.
RECEIPTS_DELIVERY_GRACE_SECONDS = env.int("RECEIPTS_DELIVERY_GRACE_SECONDS", default=900)

# The checkout emails about a payment (confirmed, balance due, refund issued...) wait this long
# for the receipt or credit note to attach; after that they are sent without it and the
# document follows in an email of its own. checkout never imports receipts (DESIGN.md §2b): it
# asks the function named here which documents go with a notification.
NOTIFICATION_ATTACHMENTS_PROVIDER = "receipts.delivery.notification_attachments"
NOTIFICATION_ATTACHMENT_WAIT_SECONDS = env.int("NOTIFICATION_ATTACHMENT_WAIT_SECONDS", default=600)
# The customer portal lists a buyer's receipts and credit notes from this selector.
PORTAL_RECEIPTS_SELECTOR = env(
    "PORTAL_RECEIPTS_SELECTOR", default="receipts.selectors.portal_documents"
)
# Bounces: POST /webhooks/email/bounce/ with this secret in the X-Bounce-Secret header (or
# django-anymail's tracking signal, once an ESP is configured) marks a message bounced. Empty
# switches the view off.
EMAIL_BOUNCE_WEBHOOK_SECRET = env("EMAIL_BOUNCE_WEBHOOK_SECRET", default="")
