"""A small fixed-window rate limiter on Django's cache (Redis in every environment).

Fixed windows are cheap (one round trip for any number of counters) and good enough for abuse
limits: at a window edge a client can get up to twice the limit through, which is acceptable
for a form, not for billing.
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
    return ratelimit_usage_many(counters=[(key, window_seconds)], now=now)[0]


def ratelimit_usage_many(*, counters: list[tuple[str, int]], now: float | None = None) -> list[int]:
    """Count one hit on each (key, window_seconds) counter; return each one's hits so far.

    All counters go to Redis in one round trip, however many there are.
    """
    moment = time.time() if now is None else now
    raw_keys = [
        (f"ratelimit:{key}:{window}:{int(moment // window)}", window) for key, window in counters
    ]
    client = _redis_client()
    if client is not None:
        # Per counter: create it with its expiry if it is new, then count. The expiry is set
        # only by the creating SET, so a counter never outlives its window.
        pipe = client.pipeline(transaction=False)
        for raw_key, window in raw_keys:
            cache_key = cache.make_and_validate_key(raw_key)
            pipe.set(cache_key, 0, ex=window + 1, nx=True)
            pipe.incr(cache_key)
        replies = pipe.execute()
        return [int(count) for count in replies[1::2]]
    return [_cache_count(raw_key, window) for raw_key, window in raw_keys]


def _cache_count(raw_key: str, window_seconds: int) -> int:
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
