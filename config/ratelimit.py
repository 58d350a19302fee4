"""A small fixed-window rate limiter on Django's cache (Redis in every environment).

Fixed windows are cheap (one round trip for any number of counters) and good enough for abuse
limits: at a window edge a client can get up to twice the limit through, which is acceptable
for a form, not for billing.
"""

import os
import threading
import time
import weakref

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
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


def _counters_script(backend=None):
    """The counting script on the redis-py client behind Django's RedisCache, or None for other
    cache backends. Kept per backend instance: building a client costs more than the call.
    It runs by EVALSHA (the script text is sent again only if Redis has forgotten it)."""
    backend = getattr(backend or cache, "_cache", None)
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
    with ratelimit_usage_many_begin(counters=counters, now=now) as counting:
        return counting.result()


def ratelimit_usage_many_begin(
    *, counters: list[tuple[str, int]], now: float | None = None
) -> "CountsInFlight":
    """Send one hit on each counter to Redis now and read the counts later, with `.result()`.

    A request that has other work to do meanwhile (the lead form builds its rows) does not wait
    for Redis: by the time it asks, the answer is usually there, and the worker never sleeps on
    the round trip. Use it as a context manager, so an answer that is never read is discarded.
    """
    counting = CountsInFlight(counters, time.time() if now is None else now)
    counting.send()
    return counting


class CountsInFlight:
    """Hits sent to Redis (one EVALSHA) whose counts are read later.

    The short way skips redis-py's command machinery (retry wrapper, response callbacks),
    which costs about as much as the round trip on the lead form. Whenever it does not work out
    (Redis has not seen the script yet, so it counted nothing; the connection failed, e.g.
    Redis restarted), `result()` goes the long way, through redis-py's own script loading and
    retries. A connection that fails after Redis ran the script can count that one hit twice,
    as redis-py's own retry can: a limit is reached one submission early, once, which an abuse
    limit can afford.
    """

    def __init__(self, counters: list[tuple[str, int]], moment: float) -> None:
        self._backend = caches[DEFAULT_CACHE_ALIAS]
        self._raw_keys = [(_window_key(key, window, moment), window) for key, window in counters]
        self._script = _counters_script(self._backend)
        self._connection = None
        self._counts: list[int] | None = None

    def _keys(self) -> list[str]:
        # make_key, not make_and_validate_key: these keys are short ASCII by construction, and
        # the validation (memcached portability) walks every character in Python.
        return [self._backend.make_key(raw_key) for raw_key, _ in self._raw_keys]

    def send(self) -> None:
        if self._script is None:
            return
        keys = self._keys()
        windows = [window for _, window in self._raw_keys]
        pool = self._script.registered_client.connection_pool
        connection = _connection_take(pool)
        try:
            connection.send_packed_command(
                connection.pack_command("EVALSHA", self._script.sha, len(keys), *keys, *windows),
                check_health=False,
            )
        except (RedisConnectionError, RedisTimeoutError, OSError):
            connection.disconnect()
            return
        self._connection = connection

    def result(self) -> list[int]:
        """The counts, in the order of the counters (each including this hit)."""
        if self._counts is None:
            counts = self._read()
            if counts is None:
                counts = self._count_the_long_way()
            self._counts = [int(count) for count in counts]
        return self._counts

    def _read(self) -> list | None:
        connection, self._connection = self._connection, None
        if connection is None:
            return None
        try:
            counts = connection.read_response()
        except NoScriptError:
            counts = None  # the answer was read: the connection is clean
        except (RedisConnectionError, RedisTimeoutError, OSError):
            connection.disconnect()  # the answer may be unread: this stream is unusable
            return None
        _connection_give_back(connection)
        return counts

    def _count_the_long_way(self) -> list[int]:
        if self._script is None:
            return [_cache_count(raw_key, window) for raw_key, window in self._raw_keys]
        return self._script(keys=self._keys(), args=[window for _, window in self._raw_keys])

    def close(self) -> None:
        """Done with the count. An answer still unread is discarded with its connection: used
        again as it is, it would be read as the answer to the next command."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.disconnect()

    def __enter__(self) -> "CountsInFlight":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class _IdleConnection(threading.local):
    pool = None
    connection = None


_idle = _IdleConnection()


def _connection_take(pool):
    """A connection of this thread's own for counting, made from `pool`'s settings but not lent
    by it: the pool checks a connection for stray data before each loan (three system calls),
    and this one never has any, because every answer on it is read, or the connection dropped.
    A count begun while another is in flight on this thread gets a connection of its own."""
    connection = _idle.connection
    _idle.connection = None
    if connection is None or _idle.pool is not pool or connection.pid != os.getpid():
        # None idle, another Redis, or a forked child's copy of its parent's (left alone: the
        # parent still uses that socket).
        _idle.pool = pool
        connection = pool.connection_class(**pool.connection_kwargs)
    return connection


def _connection_give_back(connection) -> None:
    if _idle.connection is None:
        _idle.connection = connection
    else:
        connection.disconnect()


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
