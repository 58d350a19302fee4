"""Celery: at-least-once delivery. Tasks must be idempotent (STYLE.md, Celery)."""

import environ
from celery.schedules import crontab

env = environ.Env()

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_DEFAULT_QUEUE = "portal"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Ack after the task ran, and requeue when the worker process dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# A task not acked within this window is redelivered. Nothing may be scheduled with an ETA or
# countdown longer than this: work due later is a database row with a due time, claimed by beat.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish that cannot reach the broker gives up quickly: the caller's row is the outbox and a
# periodic sweeper re-drives it, so nothing depends on an enqueue succeeding.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True

# Every periodic task, in one place. Later issues add their entries here.
CELERY_BEAT_SCHEDULE = {
    "portal-heartbeat": {
        "task": "config.tasks.beat_heartbeat",
        "schedule": 60.0,
    },
    # leads: first-response SLA escalation ladder, and the email outbox re-drive.
    "leads-sla-breaches": {
        "task": "leads.sla_breaches_process",
        "schedule": 60.0,
    },
    # leads: routing and double opt-in for captures whose intake publish was lost.
    "leads-intake-sweep": {
        "task": "leads.intake_sweep",
        "schedule": 30.0,
    },
    "leads-outbox-sweep": {
        "task": "leads.outbox_sweep",
        "schedule": 120.0,
    },
    # Re-drive inbox events stuck in received/processing/failed (rows with due times).
    "payments-webhook-sweep": {
        "task": "payments.webhook_events_sweep",
        "schedule": 30.0,
    },
    # Ask Stripe about payments stuck in processing, requires_action or unknown.
    "payments-reconcile": {
        "task": "payments.payments_reconcile",
        "schedule": 300.0,
    },
    # checkout: charge recurring renewals that are due, off-session with the saved card.
    "checkout-subscriptions-renew": {
        "task": "checkout.subscriptions_renew_due",
        "schedule": 300.0,
    },
    # checkout: re-send customer emails that were scheduled but never sent.
    "checkout-notifications-redrive": {
        "task": "checkout.notifications_redrive",
        "schedule": 300.0,
    },
    # receipts: receipts and credit notes missing or not stored, documents no email carried,
    # exports whose worker vanished.
    "receipts-sweep": {
        "task": "receipts.sweep",
        "schedule": 60.0,
    },
    # dunning: open cases whose grace ran out, then claim due cases (skip locked) in batches.
    "dunning-tick": {
        "task": "dunning.tick",
        "schedule": 60.0,
    },
    # reporting: the finance dashboard's daily rollups, the last few closed days often and
    # every closed day nightly (picks up late refunds and disputes of old payments).
    "reporting-rollup-recent": {
        "task": "reporting.rollup_rebuild_recent",
        "schedule": 600.0,
    },
    "reporting-rollup-all": {
        "task": "reporting.rollup_rebuild_all",
        "schedule": crontab(hour=3, minute=15),
    },
}
