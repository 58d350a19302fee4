"""`make run` and a developer's second terminal.

`make run` writes the addresses of the embedded services it started to var/run/services.env.
Reading that file first means `.venv/bin/python manage.py shell` in another terminal reaches the
same Postgres, Redis and localstripe. Real environment variables always win over the file.
"""

from pathlib import Path

import environ

_services_env = Path(__file__).resolve().parent.parent.parent / "var" / "run" / "services.env"
if _services_env.exists():
    environ.Env.read_env(_services_env, overwrite=False)

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import VAR_DIR, env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-dev-only-not-secret-" + "x" * 40)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
SMS_BACKEND = env("SMS_BACKEND", default="config.sms.FileSmsBackend")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms")

DEV_OUTBOX_ENABLED = True
# `make run`'s demo logins work with a password only; staff may still enrol a second factor.
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=False)
DEMO_STAFF_PASSWORD = env("DEMO_STAFF_PASSWORD", default="portal-demo-2026")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
