"""config.publisher.BackgroundPublisher: ids handed over on the request thread reach `publish`
from the publisher's own thread, in batches; a failing broker opens the breaker and never stops
the thread. No broker here: `publish` is a recorder, so what is checked is exactly what the
publisher called it with."""

import logging
import os
import select
import threading
import time

import pytest

from config.publisher import BackgroundPublisher
from tests.conftest import wait_until

LINGER = 0.05


class Recorder:
    """A publish function that records each call, and fails the first `fail_first` of them."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.calls: list[list[int]] = []
        self.published: list[int] = []
        self.threads: set[str] = set()
        self._fail = fail_first
        self._lock = threading.Lock()

    def __call__(self, ids: list[int]) -> None:
        with self._lock:
            self.calls.append(list(ids))
            self.threads.add(threading.current_thread().name)
            if self._fail > 0:
                self._fail -= 1
                raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
            self.published.extend(ids)


def _alive(name: str) -> bool:
    return any(thread.name == name and thread.is_alive() for thread in threading.enumerate())


def test_a_burst_of_submits_arrives_in_a_few_batches_each_id_exactly_once():
    publish = Recorder()
    publisher = BackgroundPublisher("test-burst", publish, linger_seconds=LINGER)

    for item_id in range(50):
        publisher.submit(item_id)

    wait_until(lambda: len(publish.published) >= 50, timeout=5)
    time.sleep(LINGER * 4)  # and nothing comes again later
    assert publish.published == list(range(50))  # each once, in the order submitted
    assert 1 <= len(publish.calls) <= 3, publish.calls
    # Published from the publisher's thread, not the one that submitted.
    assert publish.threads == {"test-burst"}


def test_a_batch_never_exceeds_the_batch_size():
    publish = Recorder()
    publisher = BackgroundPublisher("test-batch-size", publish, batch=20, linger_seconds=LINGER)

    for item_id in range(50):
        publisher.submit(item_id)

    wait_until(lambda: len(publish.published) >= 50, timeout=5)
    assert publish.published == list(range(50))
    assert len(publish.calls) >= 3
    assert max(len(call) for call in publish.calls) == 20


def test_when_the_queue_is_full_the_oldest_ids_fall_out_and_submit_never_blocks():
    publish = Recorder()
    # The thread sleeps a whole linger before its first drain: the 25 submits all land first
    # (a linger long enough for a loaded CI machine; a blocking submit would wait that long).
    publisher = BackgroundPublisher("test-full", publish, linger_seconds=2.0, max_queued=10)

    began = time.monotonic()
    for item_id in range(25):
        publisher.submit(item_id)
    assert time.monotonic() - began < 1.0

    wait_until(lambda: publish.published, timeout=10)
    time.sleep(0.3)
    assert publish.published == list(range(15, 25))


def test_a_failed_publish_opens_the_breaker_until_it_is_reset(caplog):
    caplog.set_level(logging.WARNING, logger="config.publisher")
    publish = Recorder(fail_first=1)
    publisher = BackgroundPublisher(
        "test-breaker", publish, linger_seconds=LINGER, breaker_seconds=60
    )

    publisher.submit(1)
    # The warning is logged once the breaker is open.
    wait_until(lambda: "test-breaker: publishing [1] failed" in caplog.text, timeout=5)

    assert publisher.publish_now([2]) is False
    publisher.submit(3)  # dropped while the breaker is open: the sweeper has its row
    time.sleep(LINGER * 4)
    assert publish.calls == [[1]]  # neither was even tried

    publisher.breaker_reset()
    assert publisher.publish_now([4]) is True
    publisher.submit(5)
    wait_until(lambda: 5 in publish.published, timeout=5)
    assert publish.calls == [[1], [4], [5]]
    assert publish.published == [4, 5]


def test_the_breaker_closes_by_itself_after_breaker_seconds():
    publish = Recorder(fail_first=1)
    publisher = BackgroundPublisher("test-breaker-time", publish, breaker_seconds=lambda: 1.0)

    assert publisher.publish_now([1]) is False  # fails, and does not raise
    assert publisher.publish_now([2]) is False
    assert publish.calls == [[1]]
    time.sleep(1.05)
    assert publisher.publish_now([3]) is True
    assert publish.published == [3]
    assert publisher.publish_now([]) is False
    assert publish.calls == [[1], [3]]


@pytest.mark.parametrize("breaker", ["closed", "broken"])
def test_the_thread_survives_a_failed_publish_and_publishes_later_ids(breaker):
    """With `broken`, even working out the breaker's time raises: the exception leaves
    publish_now and reaches the thread's own guard."""

    def breaker_seconds() -> float:
        if breaker == "broken":
            raise RuntimeError("PAYMENTS_BROKER_BREAKER_SECONDS is not a number")
        return 0.0

    name = f"test-survives-{breaker}"
    publish = Recorder(fail_first=1)
    publisher = BackgroundPublisher(
        name, publish, linger_seconds=LINGER, breaker_seconds=breaker_seconds
    )

    publisher.submit(1)
    wait_until(lambda: publish.calls, timeout=5)
    time.sleep(LINGER * 2)
    assert _alive(name)

    for item_id in (2, 3):
        publisher.submit(item_id)
    wait_until(lambda: publish.published == [2, 3], timeout=5)
    assert _alive(name)
    assert publish.calls[0] == [1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_thread():
    """Threads do not survive a fork (gunicorn forks its workers after import): without a
    thread of its own, a child's submits would sit in its copy of the queue forever."""
    read_end, write_end = os.pipe()

    def publish(ids: list[int]) -> None:
        os.write(write_end, f"{os.getpid()}:{ids}\n".encode())

    def read_line(timeout: float) -> str:
        ready, _, _ = select.select([read_end], [], [], timeout)
        assert ready, "nothing was published"
        return os.read(read_end, 1024).decode()

    publisher = BackgroundPublisher("test-fork", publish, linger_seconds=LINGER)
    publisher.submit(1)
    assert read_line(5) == f"{os.getpid()}:[1]\n"

    child = os.fork()
    if child == 0:  # the child: submit, give its thread time, and leave without cleanup
        try:
            publisher.submit(2)
            time.sleep(1)
        finally:
            os._exit(0)
    try:
        child_line = read_line(5)
    finally:
        os.waitpid(child, 0)
    assert child_line == f"{child}:[2]\n"
    publisher.submit(3)  # the parent's thread carries on
    assert read_line(5) == f"{os.getpid()}:[3]\n"
    os.close(read_end)
    os.close(write_end)
