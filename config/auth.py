"""Brute-force limits on password logins: the admin's /admin/login/, the portal's only one
(buyers use magic links). Staff accounts can refund money and erase personal data.

Failed logins are counted per username and per client IP in fixed windows on config.ratelimit
(Redis). While either has used up its failures for the window, the backend refuses to
authenticate, even with the right password, and the admin shows its usual "Please enter the
correct username and password" error: a locked account looks like a wrong password.

- The failure that uses up a limit locks it until the window ends (at most
  ADMIN_LOGIN_FAILURE_WINDOW_SECONDS; a fixed window lets up to twice the limit through around
  its edge). That failure, and only that one, logs a warning and writes an audit entry
  ("auth.login_locked").
- A successful login forgets its username's failures in the window (the real user has proved
  the password; their typos should not lock them out later), but not its IP's: an attacker
  with one account of their own must not be able to wipe a password spray from that IP.
- The check and the count are two round trips, not one atomic step: attempts already between
  them when a limit is used up still get their answer, so at most (concurrent requests - 1)
  more guesses per window. With two gunicorn workers that is one.
- A refused attempt is counted too (it never reaches the password hasher, so it costs little),
  which keeps an IP that goes on trying locked usernames counting towards its own limit.
- If Redis cannot be reached the login goes ahead without limits and a warning is logged: staff
  must be able to log in during a cache outage (to look at it, among other things).
"""

import hashlib
import ipaddress
import logging
import time
import unicodedata
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from redis.exceptions import RedisError

from config.http import client_ip
from config.ratelimit import ratelimit_peek_many, ratelimit_reset, ratelimit_usage_many
from config.services import audit_log_record

logger = logging.getLogger(__name__)

# The limiter's clock, read once per attempt so that the check and the count fall in one window.
clock = time.time

# What the cache raises when Redis is down or unreachable.
LIMITER_UNAVAILABLE = (RedisError, OSError)

USERNAME_KEPT_CHARS = 150  # of what was typed, in logs and the audit log


def login_username_normalise(username: str) -> str:
    """The form a username is counted under: `Ada`, ` ada` and `ADA` are one username, and so
    are the compatibility forms NFKC folds together (as Django's own normalize_username)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _username_counter(username: str) -> tuple[str, int, int]:
    # Hashed: no usernames in Redis keys.
    digest = hashlib.sha256(login_username_normalise(username).encode()).hexdigest()[:32]
    return (
        f"login:failed:username:{digest}",
        settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS,
        settings.ADMIN_LOGIN_FAILURES_PER_USERNAME,
    )


def login_ip_bucket(ip: str) -> str:
    """What one client's failures are counted under: the address for IPv4, the /64 network for
    IPv6 (one subscriber usually holds a whole /64, so counting single addresses would give a
    sprayer billions of fresh budgets)."""
    if ":" not in ip:
        return ip
    try:
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    except ValueError:
        return ip


def _ip_counter(ip: str) -> tuple[str, int, int]:
    return (
        f"login:failed:ip:{login_ip_bucket(ip)}",
        settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS,
        settings.ADMIN_LOGIN_FAILURES_PER_IP,
    )


def _counters(*, username: str, ip: str | None) -> dict[str, tuple[str, int, int]]:
    """scope -> (key, window_seconds, limit). No IP (no request, or an address that does not
    parse) means no IP counter: one shared "unknown" bucket would let anyone lock everyone out
    when a deployment hides the address (a unix socket with no proxy hops configured)."""
    counters = {"username": _username_counter(username)}
    if ip:
        counters["ip"] = _ip_counter(ip)
    return counters


def login_locked(*, username: str, ip: str | None, now: float) -> bool:
    """Whether the username or the IP has used up its failed logins in the current window.
    Raises LIMITER_UNAVAILABLE when Redis cannot be reached."""
    counters = _counters(username=username, ip=ip)
    counts = ratelimit_peek_many(
        counters=[(key, window) for key, window, _ in counters.values()], now=now
    )
    return any(
        count >= limit for count, (_, _, limit) in zip(counts, counters.values(), strict=True)
    )


def login_failure_record(*, username: str, ip: str | None, now: float) -> None:
    """Count one failed login on the username and the IP. The failure that uses up a limit
    locks it: that one is logged and written to the audit log, once per lock.
    Raises LIMITER_UNAVAILABLE when Redis cannot be reached."""
    counters = _counters(username=username, ip=ip)
    counts = ratelimit_usage_many(
        counters=[(key, window) for key, window, _ in counters.values()], now=now
    )
    locked = [
        scope
        for scope, count, (_, _, limit) in zip(counters, counts, counters.values(), strict=True)
        if count == limit
    ]
    if not locked:
        return
    window = settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS
    until = datetime.fromtimestamp((int(now // window) + 1) * window, tz=UTC)
    typed = username[:USERNAME_KEPT_CHARS]
    logger.warning(
        "Login locked by %s after failed attempts: username %r, IP %s, until %s",
        " and ".join(locked),
        typed,
        ip or "unknown",
        until.isoformat(),
    )
    audit_log_record(
        actor=None,
        action="auth.login_locked",
        detail={"username": typed, "ip": ip or "", "locked": locked, "until": until.isoformat()},
    )


def login_success_record(*, username: str, now: float) -> None:
    """Forget the username's failed logins in the current window; the IP's stay counted.
    Raises LIMITER_UNAVAILABLE when Redis cannot be reached."""
    key, window, _ = _username_counter(username)
    ratelimit_reset(key=key, window_seconds=window, now=now)


class LoginThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the failed-login limits of this module. It replaces
    ModelBackend in AUTHENTICATION_BACKENDS: listed after it, ModelBackend would be asked
    again whenever this one refuses."""

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None  # not a password login: nothing to count
        username = str(username)
        ip = client_ip(request) if request is not None else None
        now = clock()
        try:
            locked = login_locked(username=username, ip=ip, now=now)
        except LIMITER_UNAVAILABLE:
            logger.warning(
                "Login limits unavailable (Redis): this login is checked without them",
                exc_info=True,
            )
            return super().authenticate(request, username=username, password=password, **kwargs)
        user = None
        if not locked:
            user = super().authenticate(request, username=username, password=password, **kwargs)
        try:
            if user is None:
                login_failure_record(username=username, ip=ip, now=now)
            else:
                login_success_record(username=username, now=now)
        except LIMITER_UNAVAILABLE:
            logger.warning("Login limits unavailable (Redis): attempt not counted", exc_info=True)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's own async version would skip the limits.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
