"""Brute-force limits on password logins: the admin's /admin/login/, the portal's only one
(buyers use magic links). Staff accounts can refund money and erase personal data.

django-axes keeps the failed attempts (AccessAttempt rows, which staff see and clear in the
admin) and refuses a locked-out client before the password is checked:

- 5 failures for one username from one client lock that username for that client only, so an
  attacker elsewhere cannot lock a colleague out (ADMIN_LOGIN_FAILURES_PER_USERNAME);
- 20 failures from one client over all usernames lock the client (a password spray;
  ADMIN_LOGIN_FAILURES_PER_IP);
- a client is an IPv4 address or an IPv6 /64 (config.http.client_network);
- a lock ends ADMIN_LOGIN_FAILURE_WINDOW_SECONDS after the failure that set it; that failure
  logs a warning and writes one audit entry ("auth.login_locked").

A distributed guess at one username (many clients, each under its limits) is answered by a
growing delay instead of a lock (LoginGuessDelayBackend), and by the staff's two-factor sign-in.
"""

import logging
import time
import unicodedata
from datetime import timedelta

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from config.audit import audit_log_record
from config.http import client_ip

logger = logging.getLogger(__name__)

USERNAME_KEPT_CHARS = 150  # of what was typed, in the attempts, logs and the audit log


def login_username_normalise(username: str) -> str:
    """The form a username is counted under: `Ada`, ` ada` and `ADA` are one username, and so
    are the compatibility forms NFKC folds together (as Django's own normalize_username)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:USERNAME_KEPT_CHARS]


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the typed username, normalised."""
    field = get_user_model().USERNAME_FIELD
    username = (credentials or {}).get(field)
    if username is None and request is not None:
        username = request.POST.get(field)
    return None if username is None else login_username_normalise(str(username))


def login_failure_limit(request: HttpRequest, credentials: dict | None) -> int:
    """AXES_FAILURE_LIMIT (read at each attempt, so the setting can change)."""
    return settings.ADMIN_LOGIN_FAILURES_PER_USERNAME


def login_cool_off(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME."""
    return timedelta(seconds=settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS)


class StaffLoginAttempts(AxesDatabaseHandler):
    """axes' database handler with a limit per lockout parameter.

    axes compares one count (the largest over AXES_LOCKOUT_PARAMETERS) with one limit, so it
    cannot say "5 for a username from one client, 20 for the client". This puts the client's
    count on the username's scale: with limits 5 and 20, 20 failures from a client count as 5.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        per_username, per_client = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        limit = settings.ADMIN_LOGIN_FAILURES_PER_USERNAME
        return max(per_username, per_client * limit // settings.ADMIN_LOGIN_FAILURES_PER_IP)


@receiver(user_locked_out, dispatch_uid="config.auth.login_locked_audit")
def login_locked_audit(sender, request=None, username=None, ip_address=None, **_kwargs) -> None:
    """One warning and one audit entry per lock: axes also signals every try refused while a
    lock holds, and those carry no failure count."""
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return
    parameters = {"username": username, "ip_address": ip_address}
    per_username = AccessAttempt.objects.filter(**parameters).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    locked = (
        "username" if (per_username or 0) >= settings.ADMIN_LOGIN_FAILURES_PER_USERNAME else "ip"
    )
    until = timezone.now() + login_cool_off()
    ip = client_ip(request) or ""
    logger.warning(
        "Login locked by %s after failed attempts: username %r, IP %s, until %s",
        locked,
        username,
        ip or "unknown",
        until.isoformat(timespec="seconds"),
    )
    audit_log_record(
        actor=None,
        action="auth.login_locked",
        detail={
            "username": username or "",
            "ip": ip,
            "client": ip_address or "",
            "locked": [locked],
            "until": until.isoformat(timespec="seconds"),
        },
    )


def login_guess_delay(*, username: str) -> float:
    """Seconds an attempt at `username` waits: nothing until its failures over every client in
    the cool-off reach the per-username limit, then ADMIN_LOGIN_DELAY_SECONDS doubling with each
    failure after that, up to ADMIN_LOGIN_DELAY_MAX_SECONDS."""
    since = timezone.now() - login_cool_off()
    failures = (
        AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        or 0
    )
    beyond = failures - settings.ADMIN_LOGIN_FAILURES_PER_USERNAME
    if beyond < 0:
        return 0.0
    delay = settings.ADMIN_LOGIN_DELAY_SECONDS * 2 ** min(beyond, 16)
    return min(delay, settings.ADMIN_LOGIN_DELAY_MAX_SECONDS)


class LoginLockoutBackend(AxesStandaloneBackend):
    """axes' check, first in AUTHENTICATION_BACKENDS, on the async path too
    (axes.backends.AxesBackend would inherit ModelBackend's own async password check, which
    skips the lockout). No get_user: sessions belong to ModelBackend, which logs people in."""

    async def aauthenticate(self, request, **credentials):
        return await sync_to_async(self.authenticate)(request, **credentials)


class LoginGuessDelayBackend:
    """Authenticates nobody: it makes an attempt at a username that many clients have failed
    wait before Django checks the password (the next backend). The wait comes before the check,
    so an attacker cannot learn the answer sooner by giving up early; the real user still gets
    in, a few seconds later. Neither axes nor django-ratelimit has a growing delay.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and password is not None:
            delay = login_guess_delay(username=login_username_normalise(str(username)))
            if delay > 0:
                logger.info("Login attempt at a much-guessed username waits %.1f s", delay)
                time.sleep(delay)
        return None

    async def aauthenticate(self, request, **credentials):
        return await sync_to_async(self.authenticate)(request, **credentials)
