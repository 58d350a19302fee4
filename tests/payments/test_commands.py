"""manage.py stripe_events_backfill against localstripe's Events API."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from payments import gateway
from payments.gateway import request_options
from payments.models import Payment, WebhookEvent
from tests.payments.factories import payment_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_backfill_stores_and_processes_missed_events_once(localstripe, capsys):
    intent = gateway.payment_intent_create(
        amount=3_000,
        currency="eur",
        metadata={},
        idempotency_key="bf",
        payment_method="pm_card_visa",
        confirm=True,
    )
    payment = payment_create(stripe_payment_intent_id=intent.id, amount=3_000)
    today = datetime.now(tz=UTC).date().isoformat()

    call_command("stripe_events_backfill", "--since", today)
    first = capsys.readouterr().out

    stored = WebhookEvent.objects.get(type="payment_intent.succeeded")
    assert stored.signature_verified is False
    assert stored.status == "processed"
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert "new (queued)" in first

    count = WebhookEvent.objects.count()
    call_command("stripe_events_backfill", "--since", today, "--until", today)
    assert WebhookEvent.objects.count() == count
    assert "0 new" in capsys.readouterr().out


def test_backfill_refuses_bad_dates():
    with pytest.raises(CommandError):
        call_command("stripe_events_backfill", "--since", "yesterday")
    with pytest.raises(CommandError):
        call_command("stripe_events_backfill", "--since", "2026-11-10", "--until", "2026-11-01")


def test_a_copied_database_gets_a_new_installation_id_only_when_asked(capsys):
    from payments.models import Installation

    before = gateway.installation_id()
    with pytest.raises(CommandError, match="--yes"):
        call_command("stripe_installation_reset")
    assert gateway.installation_id() == before

    call_command("stripe_installation_reset", "--yes")

    after = Installation.objects.get().installation_id
    assert after != before and after in capsys.readouterr().out
    assert request_options("payment:1:create")["idempotency_key"].startswith(f"{after}:")
