"""pytest. Postgres, Redis and localstripe are real; the session fixtures in tests/conftest.py
start them and point these settings at them."""

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import env

SECRET_KEY = "test-only-secret-key-" + "t" * 40
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "config.sms.LocmemSmsBackend"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=tempfile.mkdtemp(prefix="portal-media-")))
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="portal-static-"))
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEMO_STAFF_PASSWORD = "test-demo-password"  # noqa: S105 (test settings)
# The two-factor tests switch it on (tests/config/test_admin_two_factor.py); the rest of the
# suite signs staff in with force_login, or with a verified device (tests/staff.py).
OTP_REQUIRED_FOR_STAFF = False
