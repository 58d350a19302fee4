"""A small fixed-window rate limiter on Django's cache (Redis in every environment).

Fixed windows are cheap (one round trip for any number of counters) and good enough for abuse
limits: at a window edge a client can get up to twice the limit through, which is acceptable
for a form, not for billing.
"""

import time
import weakref

from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

_counters_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# KEYS: the counters; ARGV: each one's window in seconds. Count one hit on each and return the
# counts. The expiry is set by the hit that creates a counter, so it never outlives its window;
# the script is atomic, so a counter never exists without one.
_COUNT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, tonumber(ARGV[i]) + 1) end
  counts[i] = count
end
return counts
"""


def _counters_script():
    """The counting script on the redis-py client behind Django's RedisCache, or None for other
    cache backends. Kept per backend instance: building a client costs more than the call.
    It runs by EVALSHA (the script text is sent again only if Redis has forgotten it)."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    script = _counters_scripts.get(backend)
    if script is None:
        script = get_client(write=True).register_script(_COUNT_LUA)
        _counters_scripts[backend] = script
    return script


def _window_key(key: str, window_seconds: int, moment: float) -> str:
    """The cache key of `key`'s counter in the window that holds `moment`."""
    return f"ratelimit:{key}:{window_seconds}:{int(moment // window_seconds)}"


def ratelimit_usage(*, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one hit on `key` in the current window; return the hits so far, this one included."""
    return ratelimit_usage_many(counters=[(key, window_seconds)], now=now)[0]


def ratelimit_usage_many(*, counters: list[tuple[str, int]], now: float | None = None) -> list[int]:
    """Count one hit on each (key, window_seconds) counter; return each one's hits so far.

    All counters go to Redis in one round trip, however many there are.
    """
    moment = time.time() if now is None else now
    raw_keys = [(_window_key(key, window, moment), window) for key, window in counters]
    script = _counters_script()
    if script is not None:
        # make_key, not make_and_validate_key: these keys are short ASCII by construction, and
        # the validation (memcached portability) walks every character in Python.
        keys = [cache.make_key(raw_key) for raw_key, _ in raw_keys]
        windows = [window for _, window in raw_keys]
        counts = _counts_direct(script, keys, windows)
        if counts is None:
            counts = script(keys=keys, args=windows)
        return [int(count) for count in counts]
    return [_cache_count(raw_key, window) for raw_key, window in raw_keys]


def _counts_direct(script, keys: list[str], windows: list[int]) -> list | None:
    """EVALSHA on a pooled connection, without redis-py's command machinery (retry wrapper,
    response callbacks), which costs about as much as the round trip on the lead form.

    None when the short way did not work out: Redis has not seen the script yet (it counted
    nothing), or the connection failed (Redis restarted). The caller then goes the long way,
    through redis-py's own script loading and retries. A connection that fails after Redis ran
    the script can count that one hit twice, as redis-py's own retry can: a limit is reached
    one submission early, once, which an abuse limit can afford.
    """
    pool = script.registered_client.connection_pool
    try:
        connection = pool.get_connection()
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return None
    try:
        connection.send_packed_command(
            connection.pack_command("EVALSHA", script.sha, len(keys), *keys, *windows),
            check_health=False,
        )
        return connection.read_response()
    except NoScriptError:
        return None
    except (RedisConnectionError, RedisTimeoutError, OSError):
        connection.disconnect()  # the reply may be unread: this stream is unusable
        return None
    finally:
        pool.release(connection)


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


def ratelimit_peek_many(*, counters: list[tuple[str, int]], now: float | None = None) -> list[int]:
    """Each (key, window_seconds) counter's hits so far in its current window, without counting
    one (0 for a counter nobody has hit). One round trip, however many counters."""
    moment = time.time() if now is None else now
    raw_keys = [_window_key(key, window, moment) for key, window in counters]
    found = cache.get_many(raw_keys)
    return [int(found.get(raw_key, 0)) for raw_key in raw_keys]


def ratelimit_reset(*, key: str, window_seconds: int, now: float | None = None) -> None:
    """Forget the hits on `key` in the current window."""
    moment = time.time() if now is None else now
    cache.delete(_window_key(key, window_seconds, moment))
