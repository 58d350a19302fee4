"""Celery tasks: take ids, call one service, safe to run twice. Services import this module to
enqueue, so the tasks import their services when they run."""

from datetime import timedelta

from django.utils import timezone

from config.celery import app
from leads.selectors import consent_confirmations_unsent, sla_events_unsent


@app.task(name="leads.consent_confirmation_send")
def consent_confirmation_send_task(confirmation_id: int) -> bool:
    from leads.services.consent import consent_confirmation_send

    return consent_confirmation_send(confirmation_id=confirmation_id)


@app.task(name="leads.intake")
def lead_intake_task(lead_id: int) -> bool:
    """Right after capture: route a new lead and open its double opt-in confirmation."""
    from leads.services.intake import lead_intake_process

    return lead_intake_process(lead_id=lead_id)


@app.task(name="leads.intake_sweep")
def leads_intake_sweep_task() -> int:
    """Beat: intake for captured leads whose enqueue was lost (the rows are the outbox)."""
    from leads.services.intake import leads_intake_sweep

    return leads_intake_sweep()


@app.task(name="leads.sla_event_notify")
def lead_sla_event_notify_task(event_id: int) -> bool:
    from leads.services.sla import lead_sla_event_notify

    return lead_sla_event_notify(event_id=event_id)


@app.task(name="leads.sla_breaches_process")
def lead_sla_breaches_process_task() -> int:
    """Beat, every minute: take the next escalation step on overdue leads."""
    from leads.services.sla import lead_sla_breaches_process

    return lead_sla_breaches_process()


@app.task(name="leads.outbox_sweep")
def leads_outbox_sweep_task() -> int:
    """Beat: re-drive emails whose enqueue was lost (the rows are the outbox)."""
    from leads.services.consent import consent_confirmation_send
    from leads.services.sla import lead_sla_event_notify

    now = timezone.now()
    sent = 0
    for confirmation_id in consent_confirmations_unsent(older_than=timedelta(minutes=2), now=now):
        sent += consent_confirmation_send(confirmation_id=confirmation_id)
    for event_id in sla_events_unsent(older_than=timedelta(minutes=2), now=now):
        sent += lead_sla_event_notify(event_id=event_id)
    return sent


@app.task(name="leads.readiness_reevaluate")
def leads_readiness_reevaluate_task() -> int:
    from leads.services.readiness import leads_readiness_reevaluate_all

    return leads_readiness_reevaluate_all()
