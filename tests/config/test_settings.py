"""Production settings: secure by `check --deploy`, and no defaults for secrets."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k3y-" + "q8Zr1xW0pL7nV4bM2cT9" * 3,
    "DJANGO_ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@db.internal:5432/portal",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "DEFAULT_FROM_EMAIL": "Portal <billing@example.com>",
    "SELLER_LEGAL_NAME": "Example Trading GmbH",
    "SELLER_ADDRESS": "Beispielstraße 1",
    "SELLER_POSTCODE": "10115",
    "SELLER_CITY": "Berlin",
    "SELLER_COUNTRY": "DE",
    "SELLER_TAX_ID": "DE123456789",
    "SELLER_SUPPORT_EMAIL": "billing@example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_with_zero_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    for secret in [
        "DJANGO_SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "DATABASE_URL",
        "SELLER_LEGAL_NAME",
        "SELLER_TAX_ID",
    ]:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != secret}
        result = _manage("check", env=env)
        assert result.returncode != 0, secret
        assert secret in result.stderr, result.stderr


def test_production_has_no_dev_outbox_or_demo_password():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DEV_OUTBOX_ENABLED, s.DEMO_STAFF_PASSWORD)",
        env=PRODUCTION_ENV,
    )
    assert result.stdout.strip() == "False None", result.stderr


def _database_settings(**env: str) -> dict:
    import json

    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'], default=str))",
        env={**PRODUCTION_ENV, **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_database_is_the_stock_backend_with_persistent_checked_connections():
    database = _database_settings()

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"]) == ("db.internal", "portal")
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"] == {"connect_timeout": 5}


def _production_setting(expression: str, **env: str) -> str:
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings as s; print(repr({expression}))",
        env={**PRODUCTION_ENV, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_proxy_ssl_header_is_trusted_only_behind_trusted_proxies():
    assert _production_setting("(s.TRUSTED_PROXY_COUNT, s.SECURE_PROXY_SSL_HEADER)") == "(0, None)"
    assert (
        _production_setting(
            "(s.TRUSTED_PROXY_COUNT, s.SECURE_PROXY_SSL_HEADER)", TRUSTED_PROXY_COUNT="2"
        )
        == "(2, ('HTTP_X_FORWARDED_PROTO', 'https'))"
    )


def test_the_cache_gives_up_on_redis_within_a_fraction_of_a_second():
    options = _production_setting("s.CACHES['default']['OPTIONS']")
    assert options == "{'socket_timeout': 0.25, 'socket_connect_timeout': 0.25}"


def test_production_requires_the_second_factor_and_secure_staff_sessions():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.OTP_REQUIRED_FOR_STAFF, "
        "s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.STAFF_SESSION_IDLE_SECONDS)",
        # Not even the environment switches it off in production.
        env={**PRODUCTION_ENV, "OTP_REQUIRED_FOR_STAFF": "false"},
    )
    assert result.stdout.strip().splitlines()[-1] == "True True True 1800", result.stderr


def test_local_mode_lets_the_demo_logins_in_with_a_password():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.OTP_REQUIRED_FOR_STAFF)",
        env={"DJANGO_SETTINGS_MODULE": "config.settings.local"},
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
