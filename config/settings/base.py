"""Settings shared by every environment. Everything variable comes from the environment."""

from pathlib import Path

import environ

from config.settings.csp import content_security_policy, csp_extra_sources_parse

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=None)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin with the portal's own site: the staff home and two-factor sign-in.
    "config.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "csp",
    "django_ratelimit",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The portal, lowest floor first (DESIGN.md §2b).
    "config.apps.PortalConfig",
    "leads.apps.LeadsConfig",
    "payments.apps.PaymentsConfig",
    "checkout.apps.CheckoutConfig",
    "receipts.apps.ReceiptsConfig",
    "dunning.apps.DunningConfig",
    "reporting.apps.ReportingConfig",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff sessions end after STAFF_SESSION_IDLE_SECONDS without a request; then who verified
    # the second factor (config/two_factor.py), and who acts, for the audit log.
    "config.middleware.StaffIdleSessionMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "payments.middleware.StripeCallBudgetMiddleware",
    # Last: it turns a login refused by a lockout (config/settings/auth.py) into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# A plain page for a form sent from a stale page (Django's default is a technical one).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.portal",
            ],
        },
    },
]


# Postgres only. A new connection per request costs ~7x in throughput (notes/environment.md §5),
# so connections persist, and are health-checked so a Postgres restart heals on its own.
def database_settings(database: dict) -> dict:
    """`database` (from env.db) with the portal's connection settings."""
    return {
        **database,
        "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5, **database.get("OPTIONS", {})},
    }


DATABASES = {
    "default": database_settings(
        env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/portal")
    ),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = env("PORTAL_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# Shared cache (request limits, heartbeats) on the same Redis as the broker, its own db index.
# Short socket timeouts: a hung Redis must cost a request a fraction of a second, not redis-py's
# default of 5 s per command, because every limit fails open on a cache error (config/limits.py).
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.25)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=""),
        "KEY_PREFIX": "portal",
        "TIMEOUT": 300,
        "OPTIONS": {
            "socket_timeout": CACHE_SOCKET_TIMEOUT,
            "socket_connect_timeout": CACHE_SOCKET_TIMEOUT,
        },
    }
}
# django-ratelimit: counters on that cache, keys hashed, and the limits fail open on a cache
# error (config/limits.py catches it; the library's own fail-open covers only memcached).
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True
# django-ratelimit lists django-redis but not Django's own RedisCache, which is as good for it:
# add is SET NX EX and incr an atomic INCRBY. A counter's key names its window and lives 5 s past
# the window's end, so a key that expires between incr's EXISTS and INCRBY is one nobody reads.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# How many reverse proxies in front of gunicorn append to X-Forwarded-For (a load balancer and
# nginx: 2). 0 trusts REMOTE_ADDR only. Everything that reads a client address uses it through
# config.http.client_ip: request limits, admin login lockouts, checkout velocity, consent records.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Stripe's webhook payloads fit comfortably; the webhook view enforces its own 1 MB cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    # Staff with the full sign-in, second factor included (config/two_factor.py).
    "DEFAULT_PERMISSION_CLASSES": ["config.two_factor.StaffSignedIn"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lead-to-cash portal API",
    "DESCRIPTION": "Public endpoints for embedded forms, and staff endpoints.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), pinned with the lock file:
    # no CDN at run time (the page works offline and under our Content-Security-Policy).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
CORS_URLS_REGEX = r"^/api/v1/.*$"
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Sources added to the Content-Security-Policy (config/settings/csp.py), which otherwise allows
# only our own origin and Stripe.js. A JSON object, e.g. '{"img-src": ["https://cdn.example.com"]}'.
CSP_EXTRA_SOURCES = csp_extra_sources_parse(env.str("CSP_EXTRA_SOURCES", default=""))

# The portal's own knobs.
PORTAL_NAME = env("PORTAL_NAME", default="Lead-to-cash portal")
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# The seller printed on receipts (SELLER_*): config/settings/receipts.py.

# Demo staff created by seed_demo. Only local settings give them a password.
DEMO_STAFF_PASSWORD = None
# The staff-only /dev/outbox/ page; only local settings switch it on.
DEV_OUTBOX_ENABLED = False

from config.settings.auth import *  # noqa: E402, F403
from config.settings.celery import *  # noqa: E402, F403
from config.settings.celery import CELERY_BROKER_URL  # noqa: E402
from config.settings.checkout_after import *  # noqa: E402, F403
from config.settings.dunning import *  # noqa: E402, F403
from config.settings.email import *  # noqa: E402, F403
from config.settings.leads import *  # noqa: E402, F403
from config.settings.logging import *  # noqa: E402, F403
from config.settings.payments import *  # noqa: E402, F403
from config.settings.receipts import *  # noqa: E402, F403
from config.settings.stripe import *  # noqa: E402, F403
from config.settings.stripe import STRIPE_JS_URL  # noqa: E402

CONTENT_SECURITY_POLICY = content_security_policy(
    stripe_js_url=STRIPE_JS_URL, extra_sources=CSP_EXTRA_SOURCES
)

if not CACHES["default"]["LOCATION"]:
    CACHES["default"]["LOCATION"] = CELERY_BROKER_URL.rsplit("/", 1)[0] + "/1"
from config.settings.checkout import *  # noqa: E402, F403
