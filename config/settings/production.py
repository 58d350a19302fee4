"""Production. Secrets have no defaults: a missing one stops the process at start-up."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_settings, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": database_settings(env.db("DATABASE_URL"))}
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
# Printed on every receipt and written into its e-invoice: no made-up seller in production.
SELLER_LEGAL_NAME = env("SELLER_LEGAL_NAME")
SELLER_ADDRESS = env("SELLER_ADDRESS")
SELLER_POSTCODE = env("SELLER_POSTCODE")
SELLER_CITY = env("SELLER_CITY")
SELLER_COUNTRY = env("SELLER_COUNTRY")
SELLER_TAX_ID = env("SELLER_TAX_ID")
SELLER_SUPPORT_EMAIL = env("SELLER_SUPPORT_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Behind TRUSTED_PROXY_COUNT proxies TLS ends at the first of them, which tells us the scheme;
# with none trusted, nothing may claim it (a client could send the header itself), and gunicorn
# must then serve TLS on its own.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT > 0 else None  # noqa: F405
)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
# Every staff user signs in with a second factor in production, whatever the environment says.
OTP_REQUIRED_FOR_STAFF = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405

DEMO_STAFF_PASSWORD = None
DEV_OUTBOX_ENABLED = False
