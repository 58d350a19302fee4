"""Settings shared by every environment. Everything variable comes from the environment."""

from pathlib import Path

import environ

from config.csp import csp_extra_sources_parse

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=None)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the first reader of request.POST (the CSRF check).
    "config.middleware.FormBodyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "payments.middleware.StripeCallBudgetMiddleware",
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
# so connections persist and are health-checked so a Postgres restart heals on its own.
def _prepare_threshold(value: str) -> int | None:
    if value.strip().lower() in {"", "none", "off"}:
        return None
    threshold = int(value)
    if threshold < 0:
        raise ValueError(f"DB_PREPARE_THRESHOLD must be 0 or more, or none; got {value!r}")
    return threshold


def database_settings(database: dict) -> dict:
    """`database` (from env.db) with the portal's connection settings."""
    database = {**database, "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60)}
    database["CONN_HEALTH_CHECKS"] = True
    if database["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, with a health check that asks the socket instead of the server.
        database["ENGINE"] = "config.db"
    database["OPTIONS"] = {
        "connect_timeout": 5,
        # psycopg's own default, which Django turns off: a server-side-binding statement run 5
        # times on a connection is prepared, then only bound and run. Django's cursors bind on
        # the client and are never prepared; config.rows binds on the server, and preparing its
        # lead-capture statement saves Postgres parsing and planning it on every submission
        # (0.28 ms, more than running it). Behind pgbouncer in transaction mode (before 1.21)
        # set DB_PREPARE_THRESHOLD=none.
        "prepare_threshold": _prepare_threshold(env.str("DB_PREPARE_THRESHOLD", default="5")),
        **database.get("OPTIONS", {}),
    }
    return database


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

# Shared cache (rate limits, heartbeats) on the same Redis as the broker, its own db index.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=""),
        "KEY_PREFIX": "portal",
        "TIMEOUT": 300,
    }
}

# Stripe's webhook payloads fit comfortably; the webhook view enforces its own 1 MB cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
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
# Sources added to the Content-Security-Policy (config/csp.py), which otherwise allows only our
# own origin and Stripe.js. A JSON object, e.g. '{"img-src": ["https://cdn.example.com"]}'.
CSP_EXTRA_SOURCES = csp_extra_sources_parse(env.str("CSP_EXTRA_SOURCES", default=""))

# The portal's own knobs.
PORTAL_NAME = env("PORTAL_NAME", default="Lead-to-cash portal")
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
SELLER_LEGAL_NAME = env("SELLER_LEGAL_NAME", default="Demo Seller Ltd")
SELLER_ADDRESS = env("SELLER_ADDRESS", default="1 Example Street, London, GB")
SELLER_TAX_ID = env("SELLER_TAX_ID", default="GB000000000")
SELLER_SUPPORT_EMAIL = env("SELLER_SUPPORT_EMAIL", default="support@example.com")

# Demo staff created by seed_demo. Only local settings give them a password.
DEMO_STAFF_PASSWORD = None
# The staff-only /dev/outbox/ page; only local settings switch it on.
DEV_OUTBOX_ENABLED = False
# Bench-only views (a bare view for baselines); switched on by the bench script only.
BENCH_VIEWS_ENABLED = env.bool("PORTAL_BENCH_VIEWS", default=False)

from config.settings.auth import *  # noqa: E402, F403
from config.settings.celery import *  # noqa: E402, F403
from config.settings.celery import CELERY_BROKER_URL  # noqa: E402
from config.settings.checkout_after import *  # noqa: E402, F403
from config.settings.dunning import *  # noqa: E402, F403
from config.settings.email import *  # noqa: E402, F403
from config.settings.leads import *  # noqa: E402, F403
from config.settings.logging import *  # noqa: E402, F403
from config.settings.payments import *  # noqa: E402, F403
from config.settings.stripe import *  # noqa: E402, F403

if not CACHES["default"]["LOCATION"]:
    CACHES["default"]["LOCATION"] = CELERY_BROKER_URL.rsplit("/", 1)[0] + "/1"
from config.settings.checkout import *  # noqa: E402, F403
