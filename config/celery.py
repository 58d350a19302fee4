"""The Celery app, and the one way the portal enqueues work."""

import contextlib
import logging
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from config.logging import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    """Send `task` with `args` once the current transaction commits.

    A broker outage must not fail the caller: the row that describes the work is already
    committed, and a periodic sweeper re-drives anything stored but never processed.
    """
    from django.db import transaction

    def _send() -> None:
        try:
            task.apply_async(args=args)
        except Exception:  # the broker is down or refused the message
            logger.warning("enqueue of %s%r failed; the sweeper will re-drive it", task.name, args)

    transaction.on_commit(_send)


_request_id_tokens: dict = {}


@task_prerun.connect
def _bind_task_id(task_id=None, **_kwargs) -> None:
    _request_id_tokens[task_id] = request_id_var.set(f"task-{task_id}")


@task_postrun.connect
def _unbind_task_id(task_id=None, **_kwargs) -> None:
    # An eager task runs in its caller's context: give the caller its own id back.
    token = _request_id_tokens.pop(task_id, None)
    if token is not None:
        # ValueError: set in another context (not in a worker; be safe).
        with contextlib.suppress(ValueError):
            request_id_var.reset(token)


@task_postrun.connect
def _close_db_after_task(task=None, **_kwargs) -> None:
    # A Postgres restart otherwise leaves the worker with a dead connection (celery#2996).
    # An eager task runs inside its caller's transaction, whose connection is not ours to close.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
