"""docker-compose.yml runs the production shape, wired by the same variables as everything else.

There is no Docker engine on these machines, so this checks the file itself.
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_six_services():
    assert set(_compose()["services"]) == {
        "postgres",
        "redis",
        "web",
        "worker",
        "beat",
        "localstripe",
    }


def test_web_worker_and_beat_share_one_environment_with_the_documented_names():
    services = _compose()["services"]
    envs = [services[name]["environment"] for name in ("web", "worker", "beat")]
    assert envs[0] == envs[1] == envs[2]
    for name in [
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "DJANGO_SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "STRIPE_JS_URL",
        "DEFAULT_FROM_EMAIL",
    ]:
        assert name in envs[0], name
    assert envs[0]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_every_variable_in_env_example_is_read_by_the_settings():
    settings_text = "".join(p.read_text() for p in (ROOT / "config" / "settings").glob("*.py"))
    run_text = (ROOT / "devtools" / "run.py").read_text()
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.lstrip("# ").strip()
        if "=" not in line or " " in line.split("=")[0]:
            continue
        name = line.split("=")[0]
        if name in ("DJANGO_SETTINGS_MODULE",):
            continue
        assert f'"{name}"' in settings_text or f'"{name}"' in run_text, name


def test_gunicorn_outlives_the_stripe_budget_of_a_web_request():
    import re

    from django.conf import settings

    commands = {
        "docker-compose.yml": _compose()["services"]["web"]["command"],
        "Dockerfile": (ROOT / "Dockerfile").read_text(),
    }
    for where, text in commands.items():
        found = re.search(r'--timeout"?,? *"?(\d+)', text)
        assert found, f"{where} does not set gunicorn's --timeout"
        assert int(found.group(1)) > settings.STRIPE_WEB_BUDGET_SECONDS + 5, where
