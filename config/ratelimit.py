"""A small fixed-window rate limiter on Django's cache (Redis in every environment).

Fixed windows are cheap (one round trip per hit) and good enough for abuse limits: at a window
edge a client can get up to twice the limit through, which is acceptable for a form, not for
billing.
"""

import time
import weakref

from django.core.cache import cache

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis_client():
    """The redis-py client behind Django's RedisCache, or None for other cache backends.

    Kept per backend instance: building a client costs more than the INCR it sends.
    """
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    client = _clients.get(backend)
    if client is None:
        client = _clients[backend] = get_client(write=True)
    return client


def ratelimit_usage(*, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one hit on `key` in the current window; return the hits so far, this one included."""
    moment = time.time() if now is None else now
    window = int(moment // window_seconds)
    raw_key = f"ratelimit:{key}:{window_seconds}:{window}"
    client = _redis_client()
    if client is not None:
        cache_key = cache.make_and_validate_key(raw_key)
        # One round trip: create the counter with its expiry if it is new, then count. The
        # expiry is set only by the creating SET, so a counter never outlives its window.
        pipe = client.pipeline(transaction=False)
        pipe.set(cache_key, 0, ex=window_seconds + 1, nx=True)
        pipe.incr(cache_key)
        return int(pipe.execute()[1])
    if cache.add(raw_key, 1, timeout=window_seconds + 1):
        return 1
    try:
        return cache.incr(raw_key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(raw_key, 1, timeout=window_seconds + 1)
        return 1


def ratelimit_hit(*, key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one hit and say whether it is allowed (True) or over `limit` for the window (False)."""
    return ratelimit_usage(key=key, window_seconds=window_seconds, now=now) <= limit
