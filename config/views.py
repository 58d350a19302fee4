import json
import logging
from email import message_from_bytes, policy
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app
from config.staff import staff_in_group

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return False, exc.__class__.__name__
    return True, "ok"


def _broker_ok() -> tuple[bool, str]:
    """The broker answers: a PING on one of the app's pooled connections (Redis), so a probe
    every few seconds does not open and close a connection each time."""
    try:
        with celery_app.pool.acquire(block=True, timeout=2) as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
            client = getattr(conn.default_channel, "client", None)
            if client is not None:  # the Redis transport; others are judged by connecting
                client.ping()
    except Exception as exc:
        return False, exc.__class__.__name__
    return True, "ok"


@never_cache
@require_GET
def healthz(request):
    """200 when both Postgres and the broker answer, 503 otherwise."""
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    try:
        beat = cache.get("portal:beat-heartbeat")
    except Exception:
        beat = None
    healthy = db_ok and broker_ok
    if not healthy:
        logger.warning("healthz failing: database=%s broker=%s", db_detail, broker_detail)
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "database": db_detail,
            "broker": broker_detail,
            "beat_last_seen": beat,
        },
        status=200 if healthy else 503,
    )


def _outbox_items() -> list[dict]:
    items = []
    mail_dir = Path(getattr(settings, "EMAIL_FILE_PATH", "") or "/nonexistent")
    if mail_dir.is_dir():
        for path in mail_dir.glob("*.log"):
            # The file backend appends one message per send, separated by a line of dashes.
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if not chunk.strip():
                    continue
                msg = message_from_bytes(chunk, policy=policy.default)
                body = msg.get_body(preferencelist=("plain", "html"))
                items.append(
                    {
                        "channel": "email",
                        "to": msg.get("To", ""),
                        "subject": msg.get("Subject", ""),
                        "date": msg.get("Date", ""),
                        "body": body.get_content() if body else "",
                        "sort": path.stat().st_mtime,
                    }
                )
    sms_dir = Path(getattr(settings, "SMS_FILE_PATH", "") or "/nonexistent")
    if sms_dir.is_dir():
        for path in sms_dir.glob("*.json"):
            data = json.loads(path.read_text())
            items.append(
                {
                    "channel": "sms",
                    "to": data["to"],
                    "subject": "",
                    "date": data["sent_at"],
                    "body": data["body"],
                    "sort": path.stat().st_mtime,
                }
            )
    items.sort(key=lambda item: item["sort"], reverse=True)
    return items


@never_cache
def dev_outbox(request):
    """Email and SMS the portal 'sent' in local mode. Absent everywhere else. It shows every
    magic link and access code sent, so only the Admin group sees it; config/urls.py wraps it in
    the admin's own sign-in check (password and second factor)."""
    if not settings.DEV_OUTBOX_ENABLED:
        raise Http404
    if not staff_in_group(request.user, "Admin"):
        raise PermissionDenied
    return render(request, "config/dev_outbox.html", {"items": _outbox_items()[:200]})


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a form sent from a stale page, or by a browser that refused our cookie.
    The buyer is told what happened and what to do, in the site's own page (Django's default
    is an unstyled technical page). Nothing was saved, so they lose nothing by sending again."""
    logger.info("CSRF failure on %s: %s", request.path, reason)
    return render(request, "403_csrf.html", status=403)
