"""Capture's fast path and intake (routing and the double opt-in, after capture commits).

- A first submission is one INSERT statement, and stores exactly what the locked path stores.
- Capture leaves intake pending; intake does its work once; spam gets none.
- A lost publish, or a broker that is down, loses nothing: the sweeper finds the lead.
- End to end: capture, the background publisher, the real broker, a real worker.
"""

import dataclasses
import logging
import re
import time
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app as celery_app
from devtools.embedded import free_port
from leads.models import (
    Assignment,
    ConsentConfirmation,
    ConsentRecord,
    Lead,
    LeadStatus,
    SlaState,
    Touchpoint,
)
from leads.risk import Velocity
from leads.selectors import consent_chains_verify
from leads.services import capture, intake, lead_capture
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


@pytest.fixture(autouse=True)
def _intake_breaker_closed():
    """The intake publisher is one per process: a test that opens its breaker must not make
    the next test's publishes vanish."""
    intake._publisher.breaker_reset()
    yield
    intake._publisher.breaker_reset()


@pytest.fixture
def owner():
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    return owner


def _later(lead: Lead, seconds: float) -> datetime:
    return lead.intake_pending_since + timedelta(seconds=seconds)


# The fast path --------------------------------------------------------------------------------


def test_a_first_submission_is_written_by_one_insert_statement():
    capture_lead(intake=False)  # warms the id blocks (a refill is a SELECT nextval, not a write)

    with CaptureQueriesContext(connection) as queries:
        lead = capture_lead(
            intake=False, consents={"terms": True, "marketing_email": True, "sms": False}
        )

    statements = [q["sql"] for q in queries]
    writes = [sql for sql in statements if WRITE.search(sql)]
    assert len(writes) == 1, writes
    assert writes[0].startswith('WITH parent AS (INSERT INTO "leads_lead"')
    # No transaction of its own: the statement is atomic by itself.
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements if sql not in writes)
    # And that one statement wrote the whole graph.
    assert Touchpoint.objects.filter(lead_id=lead.pk).count() == 1
    assert ConsentRecord.objects.filter(lead_id=lead.pk).count() == 3
    assert Lead.objects.get(pk=lead.pk).first_touch_id == lead.first_touch_id


def _values(obj, *, ignore: set[str]) -> dict:
    return {
        field.attname: getattr(obj, field.attname)
        for field in obj._meta.concrete_fields
        if field.attname not in ignore
    }


LEAD_OWN = {"id", "email", "consent_chain_head", "first_touch_id", "last_touch_id", "updated_at"}
TOUCH_OWN = {"id", "lead_id"}
RECORD_OWN = {"id", "lead_id", "subject_digest", "prev_hash", "record_hash"}


@pytest.mark.parametrize(
    "case",
    [
        "clean",
        "risky, not spam",
        "a rule worth no points",
    ],
)
def test_the_fast_path_stores_exactly_what_the_locked_path_stores(monkeypatch, settings, case):
    """The same submission, once through the one-statement insert and once through the
    row-locked ORM path: every stored field agrees but the lead's identity (id, email and the
    hashes that cover them)."""
    started_at = None
    if case != "clean":
        started_at = timezone.now() - timedelta(seconds=0.5)  # the too_fast rule
    if case == "a rule worth no points":
        settings.LEADS_RISK_POINTS = {**settings.LEADS_RISK_POINTS, "too_fast": 0}
    seen = []
    fast_path = capture._lead_insert_if_new

    def spy(submission, rows, policy):
        lead = fast_path(submission, rows, policy)
        seen.append((submission, policy, lead))
        return lead

    monkeypatch.setattr(capture, "_lead_insert_if_new", spy)

    returned = lead_capture(
        email="Ada.Fast@Example.com",
        name="  Ada   Lovelace ",
        company="Analytical Engines Ltd",
        phone="020 7946 0958",
        country="gb",
        consents={"terms": True, "marketing_email": True, "sms": False},
        touch={
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "utm_term": "billing portal",
            "utm_content": "ad-a",
            "referrer": "https://www.google.com/",
            "landing_page": "https://portal.example.com/start/?utm_source=google",
            "gclid": "Cj0KCQ",
            "fbclid": "",
        },
        context=capture_context(ip="2001:DB8::0:7", ip_country="gb"),
        started_at=started_at,
        velocity=Velocity(ip=1, email=1),
    )
    ((submission, policy, inserted),) = seen
    assert inserted is not None  # it did take the fast path
    # The same submission, straight into the locked path under another email.
    locked = capture._lead_capture_locked(
        dataclasses.replace(
            submission, cleaned={**submission.cleaned, "email": "ada.locked@example.com"}
        ),
        policy,
    )

    fast = Lead.objects.get(pk=returned.pk)
    locked = Lead.objects.get(pk=locked.pk)
    assert (fast.email, locked.email) == ("ada.fast@example.com", "ada.locked@example.com")
    assert _values(fast, ignore=LEAD_OWN) == _values(locked, ignore=LEAD_OWN)
    assert fast.intake_pending_since is not None
    assert fast.sla_state == SlaState.PENDING
    # What the caller got back is what was stored.
    assert _values(returned, ignore=set()) == _values(fast, ignore=set())

    for lead in (fast, locked):
        assert lead.first_touch_id == lead.last_touch_id
        assert list(lead.touchpoints.values_list("pk", flat=True)) == [lead.first_touch_id]
    assert _values(fast.first_touch, ignore=TOUCH_OWN) == _values(
        locked.first_touch, ignore=TOUCH_OWN
    )
    fast_records = list(fast.consent_records.order_by("sequence"))
    locked_records = list(locked.consent_records.order_by("sequence"))
    assert [r.decision for r in fast_records] == ["granted", "pending_confirmation", "not_given"]
    assert [_values(r, ignore=RECORD_OWN) for r in fast_records] == [
        _values(r, ignore=RECORD_OWN) for r in locked_records
    ]
    assert fast.consent_chain_head == fast_records[-1].record_hash

    out = StringIO()
    call_command("consent_chain_verify", "--lead", fast.pk, "--lead", locked.pk, stdout=out)
    assert "2 consent chain(s) verified, all intact." in out.getvalue()

    # And intake treats them alike.
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])
    assert leads_intake_run(lead_ids=[fast.pk, locked.pk]) == 2
    for lead in (fast, locked):
        lead.refresh_from_db()
        assert (lead.owner, lead.intake_pending_since) == (owner.user, None)
        assert lead.confirmations.count() == 1


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

    assert len(callbacks) == 1  # the hand-over to the publisher, once the capture commits
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


# A lost publish -------------------------------------------------------------------------------


def test_the_sweeper_routes_a_lead_whose_publish_was_lost_and_leaves_newer_ones(
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
    assert len(callbacks) == 2  # the publishes, never run: lost
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
    settings.LEADS_INTAKE_BREAKER_SECONDS = 42.0
    caplog.set_level(logging.WARNING, logger="config.publisher")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            START, lead_form_data(consent_marketing_email="on"), REMOTE_ADDR="192.0.2.10"
        )

    assert response.status_code == 303
    assert response["Location"] == "/start/thanks/?confirm=email"
    assert len(callbacks) == 1
    lead = Lead.objects.get(email="grace@example.com")
    assert lead.intake_pending_since is not None
    assert lead.consent_records.count() == 3
    # The publisher's own thread met the dead broker (not the request), and gave up.
    failure = wait_until(
        lambda: [r for r in caplog.records if f"publishing [{lead.pk}] failed" in r.getMessage()],
        timeout=15,
        message="the publisher never tried the broker",
    )
    assert failure[0].threadName == "lead-intake-publisher"
    # The breaker is open for LEADS_INTAKE_BREAKER_SECONDS: later leads skip the broker.
    assert 30 < intake._publisher._open_until - time.monotonic() <= 42
    assert intake._publisher.publish_now([lead.pk]) is False
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
def test_captured_leads_are_routed_by_a_real_worker_through_the_background_publisher(
    celery_worker,
):
    owner = SalesOwnerFactory()
    RoutingRuleFactory(members=[owner])

    # No test transaction here: each capture commits, and its on_commit hands the id over.
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
