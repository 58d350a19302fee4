"""Publishing to the broker off the request thread.

A public endpoint that has just committed a row (a webhook in the inbox, a captured lead) must
still ask a worker to process it, but it should not wait for Redis to answer. Each process
keeps one thread per publisher; the request hands it an id (microseconds) and returns. The
thread lingers a moment so a burst becomes one message, and a failed publish opens a small
circuit breaker so a broker outage costs each request nothing.

Losing the queue (a crash, a full queue, the breaker) loses nothing: the committed rows are the
outbox, and each app's periodic sweeper re-drives rows that were stored but never processed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)


class BackgroundPublisher:
    """Calls `publish(ids)` from a per-process thread with batches of submitted ids.

    `publish` raises when the broker is down or refuses; the publisher then stops calling it
    for `breaker_seconds` (the ids are dropped: the sweeper has them).

    `submit` only appends to a deque: it never wakes the thread, which drains the deque every
    `linger_seconds`. A wake-up per request (a condition variable) costs the request thread a
    GIL hand-off each time, which at hundreds of requests a second is most of the cost.
    """

    def __init__(
        self,
        name: str,
        publish: Callable[[list[int]], None],
        *,
        batch: int = 200,
        linger_seconds: float = 0.02,
        breaker_seconds: Callable[[], float] | float = 5.0,
        max_queued: int = 10_000,
    ) -> None:
        self.name = name
        self._publish = publish
        self._batch = batch
        self._linger = linger_seconds
        self._breaker_seconds = breaker_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._items: deque[int] = deque(maxlen=max_queued)

    # The thread is started lazily, and again in a forked child (gunicorn forks after import,
    # and a thread does not survive a fork).
    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._items = deque(maxlen=self._items.maxlen)
                    thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    thread.start()
                    self._pid = pid

    def submit(self, item_id: int) -> None:
        """Hand `item_id` to the thread. Never blocks and never raises; when the deque is full
        the oldest id falls out (the sweeper has it)."""
        self._ensure_thread()
        self._items.append(item_id)

    def publish_now(self, item_ids: list[int]) -> bool:
        """Publish on the calling thread, through the same breaker. True if published."""
        if not item_ids or time.monotonic() < self._open_until:
            return False
        try:
            self._publish(list(item_ids))
        except Exception:  # the broker is down or refused the message
            seconds = self._breaker_seconds
            self._open_until = time.monotonic() + (seconds() if callable(seconds) else seconds)
            logger.warning(
                "%s: publishing %s failed; the sweeper will re-drive them", self.name, item_ids
            )
            return False
        return True

    def breaker_reset(self) -> None:
        self._open_until = 0.0

    def _run(self) -> None:
        items = self._items
        while True:
            time.sleep(self._linger)
            while items:
                batch = []
                while items and len(batch) < self._batch:
                    batch.append(items.popleft())
                try:
                    self.publish_now(batch)
                except Exception:  # never let the thread die
                    logger.exception("%s: publishing %s failed", self.name, batch)
