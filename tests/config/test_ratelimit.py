import os
import threading

from config.ratelimit import ratelimit_hit, ratelimit_usage


def test_allows_up_to_the_limit_then_refuses():
    results = [
        ratelimit_hit(key="t:ip:1", limit=5, window_seconds=60, now=1000.0) for _ in range(7)
    ]
    assert results == [True] * 5 + [False] * 2


def test_a_new_window_starts_a_new_count():
    for _ in range(3):
        ratelimit_hit(key="t:ip:2", limit=3, window_seconds=60, now=1200.0)
    assert not ratelimit_hit(key="t:ip:2", limit=3, window_seconds=60, now=1210.0)
    assert ratelimit_hit(key="t:ip:2", limit=3, window_seconds=60, now=1260.0)


def test_keys_are_independent():
    assert ratelimit_usage(key="t:a", window_seconds=60, now=5.0) == 1
    assert ratelimit_usage(key="t:a", window_seconds=60, now=5.0) == 2
    assert ratelimit_usage(key="t:b", window_seconds=60, now=5.0) == 1


def test_parallel_hits_are_counted_exactly_once_each():
    counts: list[int] = []
    lock = threading.Lock()

    def hit():
        for _ in range(25):
            value = ratelimit_usage(key="t:parallel", window_seconds=600, now=6000.0)
            with lock:
                counts.append(value)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 101))


def test_the_counter_expires_with_its_window():
    from django.core.cache import cache

    ratelimit_usage(key="t:ttl", window_seconds=30, now=3000.0)
    client = cache._cache.get_client(write=False)
    ttl = client.ttl(cache.make_and_validate_key("ratelimit:t:ttl:30:100"))
    assert 0 < ttl <= 31


def test_many_counters_in_one_call_each_with_its_own_window():
    from django.core.cache import cache

    from config.ratelimit import ratelimit_usage_many

    counters = [("t:many:a", 60), ("t:many:b", 3600), ("t:many:a", 60)]
    assert ratelimit_usage_many(counters=counters, now=7200.0) == [1, 1, 2]
    assert ratelimit_usage_many(counters=counters[:2], now=7200.0) == [3, 2]
    client = cache._cache.get_client(write=False)
    assert 0 < client.ttl(cache.make_and_validate_key("ratelimit:t:many:b:3600:2")) <= 3601


def test_other_cache_backends_fall_back_to_add_and_incr(settings):
    from config import ratelimit

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ratelimit._counters_script() is None
    results = [
        ratelimit.ratelimit_hit(key="t:locmem", limit=2, window_seconds=60, now=10.0)
        for _ in range(3)
    ]
    assert results == [True, True, False]


def _script_client():
    from config.ratelimit import _counters_script

    return _counters_script().registered_client


def test_counting_works_when_redis_has_forgotten_the_script():
    from config.ratelimit import ratelimit_usage_many

    assert ratelimit_usage_many(counters=[("t:flushed", 60)], now=9000.0) == [1]
    _script_client().script_flush()  # as after a Redis restart

    assert ratelimit_usage_many(counters=[("t:flushed", 60)], now=9000.0) == [2]  # once each
    assert ratelimit_usage_many(counters=[("t:flushed", 60)], now=9000.0) == [3]


def test_counting_survives_a_dropped_connection():
    import redis

    from config.ratelimit import ratelimit_usage_many

    pool = _script_client().connection_pool
    assert ratelimit_usage_many(counters=[("t:dropped", 60)], now=9100.0) == [1]
    # Redis drops every other client's connection (a restart, a proxy timeout): the pooled
    # ones are now stale.
    with redis.Redis(connection_pool=redis.ConnectionPool(**pool.connection_kwargs)) as admin:
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1

    assert ratelimit_usage_many(counters=[("t:dropped", 60)], now=9100.0) == [2]
    assert ratelimit_usage_many(counters=[("t:dropped", 60)], now=9100.0) == [3]


def test_peeking_reads_the_counts_without_counting():
    from config.ratelimit import ratelimit_peek_many

    ratelimit_usage(key="t:peek:a", window_seconds=60, now=9200.0)
    ratelimit_usage(key="t:peek:a", window_seconds=60, now=9200.0)
    counters = [("t:peek:a", 60), ("t:peek:never", 60)]
    assert ratelimit_peek_many(counters=counters, now=9200.0) == [2, 0]
    assert ratelimit_peek_many(counters=counters, now=9200.0) == [2, 0]
    assert ratelimit_peek_many(counters=counters, now=9260.0) == [0, 0]  # the next window


def test_a_reset_forgets_only_that_key_in_the_current_window():
    from config.ratelimit import ratelimit_peek_many, ratelimit_reset

    for now in (9300.0, 9300.0, 9360.0):
        ratelimit_usage(key="t:reset", window_seconds=60, now=now)
    ratelimit_usage(key="t:kept", window_seconds=60, now=9360.0)

    ratelimit_reset(key="t:reset", window_seconds=60, now=9360.0)
    assert ratelimit_peek_many(counters=[("t:reset", 60), ("t:kept", 60)], now=9360.0) == [0, 1]
    assert ratelimit_peek_many(counters=[("t:reset", 60)], now=9300.0) == [2]
    assert ratelimit_usage(key="t:reset", window_seconds=60, now=9360.0) == 1


def test_peek_and_reset_work_on_other_cache_backends_too(settings):
    from config.ratelimit import ratelimit_peek_many, ratelimit_reset

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ratelimit_usage(key="t:locmem:peek", window_seconds=60, now=10.0)
    assert ratelimit_peek_many(counters=[("t:locmem:peek", 60)], now=10.0) == [1]
    ratelimit_reset(key="t:locmem:peek", window_seconds=60, now=10.0)
    assert ratelimit_peek_many(counters=[("t:locmem:peek", 60)], now=10.0) == [0]


def test_a_count_begun_now_is_read_later_and_other_commands_in_between_are_unaffected():
    from django.core.cache import cache

    from config.ratelimit import ratelimit_usage_many, ratelimit_usage_many_begin

    with ratelimit_usage_many_begin(counters=[("t:later", 60)], now=9300.0) as counting:
        # Redis is used meanwhile, from the same pool: each command gets its own answer.
        cache.set("t:later:other", "x")
        assert cache.get("t:later:other") == "x"
        assert ratelimit_usage_many(counters=[("t:later", 60)], now=9300.0) == [2]
        assert counting.result() == [1]
        assert counting.result() == [1]  # read once, kept
    assert ratelimit_usage_many(counters=[("t:later", 60)], now=9300.0) == [3]


def test_an_answer_never_read_is_discarded_not_handed_to_the_next_command():
    from config.ratelimit import ratelimit_usage_many, ratelimit_usage_many_begin

    for _ in range(4):
        ratelimit_usage_many(counters=[("t:unread", 60)], now=9400.0)
    with ratelimit_usage_many_begin(counters=[("t:unread", 60)], now=9400.0):
        pass  # e.g. the submission was refused before its velocity was needed
    # The hit counted (5), and each later command reads its own answer, never that 5.
    for expected in (1, 2, 3):
        with ratelimit_usage_many_begin(counters=[("t:unread:b", 60)], now=9400.0) as counting:
            assert counting.result() == [expected]
    assert ratelimit_usage_many(counters=[("t:unread", 60)], now=9400.0) == [6]


def test_a_begun_count_falls_back_when_redis_has_forgotten_the_script():
    from config.ratelimit import ratelimit_usage_many_begin

    with ratelimit_usage_many_begin(counters=[("t:begun:flushed", 60)], now=9500.0) as counting:
        assert counting.result() == [1]
    _script_client().script_flush()
    with ratelimit_usage_many_begin(counters=[("t:begun:flushed", 60)], now=9500.0) as counting:
        assert counting.result() == [2]  # counted once, the long way


def test_a_begun_count_on_another_cache_backend_counts_when_read(settings):
    from config import ratelimit

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with ratelimit.ratelimit_usage_many_begin(counters=[("t:begun:locmem", 60)]) as counting:
        assert counting.result() == [1]


def test_a_forked_child_counts_on_its_own_connection_and_leaves_its_parents_alone():
    from config.ratelimit import _idle, ratelimit_usage_many

    assert ratelimit_usage_many(counters=[("t:fork", 60)], now=9600.0) == [1]
    parents = _idle.connection
    pid = os.fork()
    if pid == 0:  # the child: whatever happens, its verdict is its exit code
        ok = False
        try:
            ok = ratelimit_usage_many(counters=[("t:fork", 60)], now=9600.0) == [2]
            ok = ok and _idle.connection is not parents and _idle.connection.pid == os.getpid()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection was not shut down by the child.
    assert ratelimit_usage_many(counters=[("t:fork", 60)], now=9600.0) == [3]
