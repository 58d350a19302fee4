"""Request limits: django-ratelimit's counters on Django's cache (Redis), failing open.

Every limit in the portal is one call here. A limit protects against abuse; it must never cost
a real visitor their submission, so when the cache cannot be reached (Redis down or hung) the
request goes ahead without the limit and a warning is logged. The cache's short socket timeouts
(CACHE_SOCKET_TIMEOUT) make that quick.

django-ratelimit counts in fixed windows: around a window's edge a client can get up to twice
the limit through, which is fine for abuse limits.
"""

import logging
from collections.abc import Callable

from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from config.http import client_network

logger = logging.getLogger(__name__)

# What the cache raises when Redis is down, refuses, or does not answer in time.
CACHE_ERRORS = (RedisError, OSError)

Rate = tuple[int, int]  # (hits, seconds)


def client_key(_group: str, request: HttpRequest) -> str:
    """django-ratelimit key: the client's address (an IPv6 /64 as one); "unknown" when the
    deployment hides it, which then shares one budget."""
    return client_network(request) or "unknown"


def limit_usage(
    request: HttpRequest | None,
    *,
    group: str,
    key: str | Callable[[str, HttpRequest], str],
    rate: Rate,
    increment: bool = True,
) -> int | None:
    """Count one hit (unless `increment` is False) on `group`'s counter for `key` and return the
    hits in the current window, this one included; None when the cache cannot be reached.

    `key` is a value (an email digest) or a django-ratelimit key callable; with a value the
    request may be None (a service counting without one)."""
    key_fn = key if callable(key) else (lambda _group, _request: key)
    try:
        usage = get_usage(request, group=group, key=key_fn, rate=rate, increment=increment)
    except CACHE_ERRORS:
        logger.warning("Limit %s not applied: the cache cannot be reached", group, exc_info=True)
        return None
    return None if usage is None else usage["count"]


def limit_exceeded(
    request: HttpRequest | None,
    *,
    group: str,
    key: str | Callable[[str, HttpRequest], str],
    rate: Rate,
) -> bool:
    """Count one hit and say whether it is over `rate` (hits, seconds). False when the cache
    cannot be reached: the request goes ahead."""
    count = limit_usage(request, group=group, key=key, rate=rate)
    return count is not None and count > rate[0]
