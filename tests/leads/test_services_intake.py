"""Intake (routing and the double opt-in, after capture commits).

- Capture leaves intake pending and enqueues it on commit; intake does its work once; spam gets
  none.
- A lost enqueue, or a broker that is down, loses nothing: the sweeper finds the lead.
- End to end: capture, enqueue_on_commit, the real broker, a real worker.
"""

import logging
import re
import time
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from config.celery import app as celery_app
from devtools.embedded import free_port
from leads.models import (
    Assignment,
    ConsentConfirmation,
    ConsentRecord,
    Lead,
    LeadStatus,
    Touchpoint,
)
from leads.selectors import consent_chains_verify
from leads.services import intake
from leads.services.intake import lead_intake_process, leads_intake_run, leads_intake_sweep
from tests.conftest import wait_until
from tests.leads.factories import (
    RoutingRuleFactory,
    SalesOwnerFactory,
    capture_context,
    capture_lead,
    lead_form_data,
)

pytestmark = pytest.mark.django_db

START = "/start/"
WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@pytest.fixture
def owner():
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    return owner


def _later(lead: Lead, seconds: float) -> datetime:
    return lead.intake_pending_since + timedelta(seconds=seconds)


# What capture stores ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "203.0.113.7",
        "2001:DB8::0:7",
        "::ffff:192.0.2.1",
        pytest.param(
            "::192.0.2.1",  # an IPv4-compatible IPv6 address (deprecated, still valid)
        ),
    ],
)
def test_the_consent_chain_verifies_for_every_ip_address_capture_accepts(ip):
    captured = capture_lead(intake=False, context=capture_context(ip=ip))

    stored = Touchpoint.objects.get(pk=captured.first_touch_id)
    assert stored.ip == captured.first_touch.ip  # what was hashed is what was stored
    assert consent_chains_verify(lead_ids=[captured.pk]) == (1, [])


def test_the_lead_capture_returns_validates_like_a_stored_one():
    lead = capture_lead(intake=False)

    lead.validate_constraints()


# Intake ---------------------------------------------------------------------------------------


def test_capture_leaves_intake_pending_and_intake_routes_the_lead_once(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        captured = capture_lead(intake=False)

    assert len(callbacks) == 1  # intake's enqueue, once the capture commits
    lead = Lead.objects.get(pk=captured.pk)
    assert lead.intake_pending_since == lead.created_at
    assert lead.owner is None
    assert not Assignment.objects.filter(lead=lead).exists()
    clock = (lead.first_response_due_at, lead.sla_next_check_at)

    assert lead_intake_process(lead_id=lead.pk) is True

    lead.refresh_from_db()
    assert lead.owner == owner.user
    assert lead.intake_pending_since is None
    assert (lead.first_response_due_at, lead.sla_next_check_at) == clock  # not restarted
    assert Assignment.objects.filter(lead=lead).count() == 1
    done = lead.updated_at

    assert lead_intake_process(lead_id=lead.pk) is False
    assert leads_intake_run(lead_ids=[lead.pk]) == 0
    lead.refresh_from_db()
    assert lead.updated_at == done
    assert Assignment.objects.filter(lead=lead).count() == 1


def test_a_suspected_spam_lead_gets_no_intake(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        captured = capture_lead(
            intake=False,
            honeypot="http://spam.example",
            consents={"terms": True, "marketing_email": True},
        )

    assert callbacks == []
    lead = Lead.objects.get(pk=captured.pk)
    assert lead.status == LeadStatus.SPAM
    assert lead.intake_pending_since is None
    assert lead_intake_process(lead_id=lead.pk) is False
    assert leads_intake_sweep(now=timezone.now() + timedelta(days=1)) == 0
    lead.refresh_from_db()
    assert lead.owner is None
    assert not ConsentConfirmation.objects.exists()
    assert mail.outbox == []


def test_a_repeat_submission_with_marketing_ticked_opens_exactly_one_confirmation(
    owner, django_capture_on_commit_callbacks, celery_eager
):
    first = capture_lead(email="again@example.com")  # routed, nothing pending
    assert first.intake_pending_since is None
    with django_capture_on_commit_callbacks() as callbacks:
        capture_lead(email="again@example.com", consents={"terms": True}, intake=False)
    assert callbacks == []  # nothing new for intake to do

    with django_capture_on_commit_callbacks() as callbacks:
        repeat = capture_lead(
            email="again@example.com",
            consents={"terms": True, "marketing_email": True},
            intake=False,
        )
    assert len(callbacks) == 1
    assert repeat.pk == first.pk
    assert Lead.objects.get(pk=first.pk).intake_pending_since is not None

    with django_capture_on_commit_callbacks(execute=True):
        assert leads_intake_run(lead_ids=[first.pk]) == 1
        assert leads_intake_run(lead_ids=[first.pk]) == 0

    pending = ConsentRecord.objects.get(lead=first, decision="pending_confirmation")
    confirmation = ConsentConfirmation.objects.get()
    assert confirmation.pending_record == pending
    assert confirmation.sent_at is not None
    assert [message.to for message in mail.outbox] == [["again@example.com"]]
    # The repeat did not route the lead again.
    assert Assignment.objects.filter(lead=first).count() == 1
    assert Lead.objects.get(pk=first.pk).owner == owner.user


def test_two_repeats_before_intake_runs_confirm_only_the_newest_request(owner):
    lead = capture_lead(email="twice@example.com")
    for _ in range(2):
        capture_lead(
            email="twice@example.com",
            consents={"terms": True, "marketing_email": True},
            intake=False,
        )

    assert leads_intake_run(lead_ids=[lead.pk]) == 1

    newest = (
        ConsentRecord.objects.filter(lead=lead, decision="pending_confirmation")
        .order_by("-sequence")
        .first()
    )
    assert list(ConsentConfirmation.objects.values_list("pending_record", flat=True)) == [newest.pk]


def test_one_lead_failing_intake_keeps_its_mark_and_does_not_stop_the_others(owner, monkeypatch):
    leads = [capture_lead(intake=False) for _ in range(3)]
    broken = leads[1]
    route = intake.lead_route

    def route_or_fail(*, lead, now):
        if lead.pk == broken.pk:
            raise RuntimeError("routing rule misconfigured")
        return route(lead=lead, now=now)

    monkeypatch.setattr(intake, "lead_route", route_or_fail)
    with pytest.raises(RuntimeError, match="misconfigured"):
        leads_intake_run(lead_ids=[lead.pk for lead in leads])

    stored = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads])}
    assert [stored[lead.pk].owner for lead in leads] == [owner.user, None, owner.user]
    # Still pending, but moved to the back of the sweeper's queue so it cannot starve others.
    assert stored[broken.pk].intake_pending_since > broken.intake_pending_since
    assert stored[leads[2].pk].intake_pending_since is None

    monkeypatch.undo()
    assert leads_intake_sweep(now=_later(broken, 3600)) == 1
    assert Lead.objects.get(pk=broken.pk).owner == owner.user


# A lost enqueue -------------------------------------------------------------------------------


def test_the_sweeper_routes_a_lead_whose_enqueue_was_lost_and_leaves_newer_ones(
    owner, settings, monkeypatch, django_capture_on_commit_callbacks
):
    after = settings.LEADS_INTAKE_SWEEP_AFTER_SECONDS
    with django_capture_on_commit_callbacks() as callbacks:
        older = capture_lead(intake=False)
        # A second lead, captured 25 seconds later.
        later = older.intake_pending_since + timedelta(seconds=25)
        with monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda: later)
            newer = capture_lead(intake=False)
    assert len(callbacks) == 2  # the enqueues, never run: lost
    assert newer.intake_pending_since == later

    assert leads_intake_sweep(now=_later(older, after - 1)) == 0
    assert Lead.objects.filter(owner__isnull=False).count() == 0

    assert leads_intake_sweep(now=_later(older, after + 1)) == 1
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.owner, older.intake_pending_since) == (owner.user, None)
    assert newer.owner is None
    assert newer.intake_pending_since == later

    assert leads_intake_sweep(now=_later(newer, after + 1)) == 1
    newer.refresh_from_db()
    assert (newer.owner, newer.intake_pending_since) == (owner.user, None)
    assert leads_intake_sweep(now=later + timedelta(hours=1)) == 0
    assert Assignment.objects.count() == 2


# The broker is down ---------------------------------------------------------------------------


def _use_broker(url: str) -> None:
    # kombu keeps a connection pool per broker URL; dropping the app's references makes the
    # next publish use the pool for `url` (as tests/payments/test_webhook_reliability.py does).
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def dead_broker():
    """A broker URL on a port nothing listens on (connection refused)."""
    original = celery_app.conf.broker_url
    _use_broker(f"redis://127.0.0.1:{free_port()}/0")
    yield
    _use_broker(original)


def test_with_the_broker_down_the_form_still_answers_and_the_sweeper_does_intake(
    client, owner, dead_broker, settings, caplog, django_capture_on_commit_callbacks
):
    assert not celery_app.conf.task_always_eager
    caplog.set_level(logging.WARNING, logger="config.celery")

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            START, lead_form_data(consent_marketing_email="on"), REMOTE_ADDR="192.0.2.10"
        )

    assert response.status_code == 303
    assert response["Location"] == "/start/thanks/?confirm=email"
    assert time.monotonic() - started < 5  # one refused connection, one quick retry
    assert len(callbacks) == 1
    lead = Lead.objects.get(email="grace@example.com")
    assert lead.intake_pending_since is not None
    assert lead.consent_records.count() == 3
    assert f"enqueue of leads.intake({lead.pk},) failed" in caplog.text
    lead.refresh_from_db()
    assert lead.owner is None
    assert not ConsentConfirmation.objects.exists()

    # Beat's sweeper, once the lead has waited long enough.
    assert leads_intake_sweep(now=_later(lead, settings.LEADS_INTAKE_SWEEP_AFTER_SECONDS)) == 1
    lead.refresh_from_db()
    assert (lead.owner, lead.intake_pending_since) == (owner.user, None)
    assert ConsentConfirmation.objects.filter(lead=lead).count() == 1


# End to end -----------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_captured_leads_are_routed_by_a_real_worker(
    celery_worker,
):
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])

    # No test transaction here: each capture commits, and its on_commit enqueues intake.
    leads = [capture_lead(intake=False) for _ in range(4)]
    leads.append(capture_lead(intake=False, consents={"terms": True, "marketing_email": True}))
    ids = [lead.pk for lead in leads]

    wait_until(
        lambda: (
            Lead.objects.filter(
                pk__in=ids, owner=owner.user, intake_pending_since__isnull=True
            ).count()
            == len(ids)
        ),
        timeout=30,
        message="the worker did not route every captured lead",
    )
    assert Assignment.objects.filter(lead_id__in=ids).count() == len(ids)
    # The double opt-in email went out from the worker too.
    wait_until(
        lambda: ConsentConfirmation.objects.filter(lead=leads[-1], sent_at__isnull=False).exists(),
        timeout=30,
        message="the confirmation email was not sent",
    )
    log = celery_worker.log_path.read_text()
    assert re.search(r"Task leads\.intake\[[-0-9a-f]+\] succeeded", log), log
