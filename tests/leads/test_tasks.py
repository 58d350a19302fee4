from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from config.celery import app
from leads.models import ConsentConfirmation
from leads.tasks import (
    consent_confirmation_send_task,
    lead_sla_breaches_process_task,
    leads_outbox_sweep_task,
    leads_readiness_reevaluate_task,
)
from tests.leads.factories import capture_lead

pytestmark = pytest.mark.django_db


def test_beat_runs_the_sla_sweep_and_the_outbox_and_they_are_registered():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["leads-sla-breaches"]["task"] == "leads.sla_breaches_process"
    assert schedule["leads-outbox-sweep"]["task"] == "leads.outbox_sweep"
    app.loader.import_default_modules()  # what the worker does at start-up
    for entry in schedule.values():
        assert entry["task"] in app.tasks


def test_a_lost_confirmation_email_is_re_driven_once():
    lead = capture_lead(consents={"terms": True, "marketing_email": True})
    confirmation = ConsentConfirmation.objects.get(lead=lead)
    ConsentConfirmation.objects.filter(pk=confirmation.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )

    assert leads_outbox_sweep_task() == 1
    assert leads_outbox_sweep_task() == 0
    assert consent_confirmation_send_task(confirmation.pk) is False
    assert [m.to for m in mail.outbox] == [[lead.email]]


def test_the_sweep_task_and_reevaluation_task_run_their_services():
    capture_lead()
    assert lead_sla_breaches_process_task() == 0
    assert leads_readiness_reevaluate_task() == 1
