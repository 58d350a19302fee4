"""A small fixed-window rate limiter on Django's cache (Redis in every environment).

Fixed windows are cheap (one INCR per hit) and good enough for abuse limits: at a window edge a
client can get up to twice the limit through, which is acceptable for a form, not for billing.
"""

import time

from django.core.cache import cache


def ratelimit_usage(*, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one hit on `key` in the current window; return the hits so far, this one included."""
    moment = time.time() if now is None else now
    window = int(moment // window_seconds)
    cache_key = f"ratelimit:{key}:{window_seconds}:{window}"
    # add() is SET NX: only the first hit of a window creates the counter, with its expiry, so
    # the counter never lives past its window even if Redis keeps it until the TTL runs out.
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(cache_key, 1, timeout=window_seconds + 1)
        return 1


def ratelimit_hit(*, key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit and say whether it is allowed (True) or over `limit` for the window (False)."""
    return ratelimit_usage(key=key, window_seconds=window_seconds, now=now) <= limit
