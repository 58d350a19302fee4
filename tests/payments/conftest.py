from __future__ import annotations

import threading
from collections import Counter

import pytest

from devtools.embedded import stop_process
from tests.conftest import _worker_env, celery_worker_start


class SignalsSeen(list):
    def counts(self) -> Counter:
        return Counter((name, payment_id) for name, payment_id, _ in self)


@pytest.fixture
def money_signals():
    """Observe what payments tells the apps above it: (signal name, payment id, status)."""
    from payments import signals

    seen = SignalsSeen()
    lock = threading.Lock()
    receivers = []
    for name in (
        "payment_succeeded",
        "payment_failed",
        "payment_refunded",
        "payment_disputed",
        "payment_authorized",
        "payment_canceled",
    ):

        def receiver(sender, payment_id, status, _name=name, **kwargs):
            with lock:
                seen.append((_name, payment_id, status))

        signal = getattr(signals, name)
        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield seen
    for signal, receiver in receivers:
        signal.disconnect(receiver)


@pytest.fixture
def worker_factory(transactional_db, embedded_postgres, embedded_redis, stack_dir):
    """Start real `celery worker` processes with chosen broker, concurrency and visibility."""
    started = []

    def start(*, broker_url: str = "", visibility_timeout: int | None = None, concurrency=1):
        env = _worker_env(embedded_postgres, embedded_redis)
        if broker_url:
            env["CELERY_BROKER_URL"] = broker_url
        if visibility_timeout is not None:
            env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
            env["DJANGO_SETTINGS_MODULE"] = "tests.payments.worker_settings"
        process = celery_worker_start(env=env, log_dir=stack_dir, concurrency=concurrency)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process, timeout=20)


@pytest.fixture
def wide_live_server(transactional_db):
    """Django's threaded live server with a listen backlog wide enough for a burst of 50
    simultaneous connections (the stock one queues 10 and resets the rest)."""
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    class WideServer(ThreadedWSGIServer):
        request_queue_size = 256

    class Thread(LiveServerThread):
        server_class = WideServer

    thread = Thread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    thread.url = f"http://127.0.0.1:{thread.port}"
    yield thread
    thread.terminate()
