"""manage.py stripe_webhook_endpoint and manage.py stripe_smoke, against the strict Stripe peer
(no test depends on real Stripe)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from payments import gateway
from payments.models import WebhookEvent
from payments.webhooks import HANDLERS
from tests.conftest import ROOT, wait_until


def _endpoint_for(settings, tmp_path) -> str:
    secret_file = tmp_path / "webhook_secret"
    call_command("stripe_webhook_endpoint", "--secret-file", str(secret_file))
    return secret_file.read_text().strip()


@pytest.mark.django_db
def test_the_endpoint_is_created_once_with_the_pinned_version_and_the_handled_events(
    localstripe, settings, capsys, tmp_path
):
    settings.PORTAL_BASE_URL = "https://portal.example/"

    secret = _endpoint_for(settings, tmp_path)

    out = capsys.readouterr().out
    (endpoint,) = gateway.webhook_endpoints_list()
    assert endpoint.url == "https://portal.example/webhooks/stripe/"
    assert endpoint.api_version == settings.STRIPE_API_VERSION == "2026-10-28.endive"
    assert sorted(endpoint.enabled_events) == sorted(HANDLERS)
    assert secret.startswith("whsec_")
    assert f"STRIPE_WEBHOOK_SECRET={secret}" in out

    call_command("stripe_webhook_endpoint")

    again = capsys.readouterr().out
    assert "is up to date" in again
    assert secret not in again
    assert [e.id for e in gateway.webhook_endpoints_list()] == [endpoint.id]


@pytest.mark.django_db
def test_the_event_types_are_the_handlers_of_the_day(localstripe, settings, capsys, monkeypatch):
    settings.PORTAL_BASE_URL = "https://portal.example"
    call_command("stripe_webhook_endpoint")
    monkeypatch.setitem(HANDLERS, "invoice.paid", lambda event: None)  # a type added later
    capsys.readouterr()

    call_command("stripe_webhook_endpoint")

    assert "Updated webhook endpoint" in capsys.readouterr().out
    (endpoint,) = gateway.webhook_endpoints_list()
    assert "invoice.paid" in endpoint.enabled_events
    assert sorted(endpoint.enabled_events) == sorted(HANDLERS)


@pytest.mark.django_db
def test_an_endpoint_at_another_version_gets_a_new_one_beside_it(localstripe, settings, capsys):
    settings.PORTAL_BASE_URL = "https://portal.example"
    old = gateway.webhook_endpoint_create(
        url="https://portal.example/webhooks/stripe/",
        enabled_events=["payment_intent.succeeded"],
        api_version="2026-09-30.endive",
    )

    call_command("stripe_webhook_endpoint")

    out = capsys.readouterr().out
    assert "STRIPE_WEBHOOK_SECRET=whsec_" in out
    assert f"Endpoint {old.id} also sends to" in out
    versions = {e.api_version for e in gateway.webhook_endpoints_list()}
    assert versions == {"2026-09-30.endive", "2026-10-28.endive"}


@pytest.mark.django_db(transaction=True)
def test_events_reach_the_portal_through_the_endpoint_it_made(
    localstripe, live_server, settings, tmp_path
):
    settings.PORTAL_BASE_URL = live_server.url
    settings.STRIPE_WEBHOOK_SECRET = _endpoint_for(settings, tmp_path)

    intent = gateway.payment_intent_create(
        amount=1_200,
        currency="eur",
        payment_method="pm_card_visa",
        metadata={},
        idempotency_key="endpoint-proof",
    )
    gateway.payment_intent_confirm(
        intent.id, idempotency_key="endpoint-proof:confirm", return_url=live_server.url + "/"
    )

    stored = wait_until(
        lambda: WebhookEvent.objects.filter(
            type="payment_intent.succeeded", object_id=intent.id
        ).first(),
        message="the event never reached /webhooks/stripe/",
    )
    assert stored.signature_verified is True
    assert stored.api_version == "2026-10-28.endive"


# --- stripe_smoke -----------------------------------------------------------------------------


def test_the_smoke_test_without_a_key_says_what_it_needs_and_exits_non_zero():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STRIPE_SECRET_KEY": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "stripe_smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "needs a Stripe test-mode secret key in STRIPE_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("key", ["sk_live_51Abc", "rk_live_51Abc"])
def test_the_smoke_test_refuses_a_live_key(settings, key):
    settings.STRIPE_SECRET_KEY = key
    with pytest.raises(CommandError, match="live-mode key"):
        call_command("stripe_smoke")


def test_the_smoke_test_refuses_what_is_not_a_secret_key(settings):
    settings.STRIPE_SECRET_KEY = "pk_test_51Abc"
    with pytest.raises(CommandError, match="not a secret key"):
        call_command("stripe_smoke")


@pytest.mark.django_db(transaction=True)
def test_the_smoke_test_passes_against_the_strict_peer(
    localstripe, live_server, settings, capsys, tmp_path
):
    settings.PORTAL_BASE_URL = live_server.url
    settings.STRIPE_WEBHOOK_SECRET = _endpoint_for(settings, tmp_path)
    capsys.readouterr()

    call_command("stripe_smoke", "--currency", "jpy", "--wait", "15")

    out = capsys.readouterr().out
    assert "Stripe smoke test passed." in out
    assert "succeeded: 50 jpy" in out
    assert "reached the portal" in out


@pytest.mark.django_db(transaction=True)
def test_the_smoke_test_says_when_the_webhook_never_arrives(localstripe, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"  # nothing registered, nothing listening
    with pytest.raises(CommandError, match="did not reach the portal's inbox"):
        call_command("stripe_smoke", "--wait", "2")
