"""config.db: Django's PostgreSQL backend with a health check that asks the socket.

Against the real Postgres of the test stack: a healthy idle connection passes without a
statement; one the server has terminated fails the check, and the next use reconnects.
"""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

from config.db.base import DatabaseWrapper
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _reconnect_afterwards():
    """These tests break the connection on purpose; the test teardown needs a working one."""
    yield
    connection.close()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    """Ends `pid`'s session from another connection, as an administrator or a restart would."""
    params = connection.get_connection_params()
    with psycopg.connect(autocommit=True, **params) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_portal_runs_on_this_backend_with_health_checks_on():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert settings.DATABASES["default"]["ENGINE"] == "config.db"
    assert connection.health_check_enabled
    assert connection.vendor == "postgresql"


def test_a_healthy_idle_connection_passes_without_a_statement(monkeypatch):
    _backend_pid()  # connected, idle
    asked = []
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: asked.append(1) or True)

    assert connection.is_usable() is True
    assert asked == []  # no SELECT 1 round trip


def test_a_connection_the_server_terminated_fails_the_check():
    pid = _backend_pid()
    _terminate(pid)
    # The server's goodbye (an error message, then EOF) arrives a moment later.
    wait_until(lambda: not connection.is_usable(), timeout=5)


def test_the_next_request_reconnects_after_the_server_ended_the_session():
    pid = _backend_pid()
    _terminate(pid)
    wait_until(lambda: not connection.is_usable(), timeout=5)

    connection.health_check_done = False  # what the start of every request does
    assert _backend_pid() != pid  # a fresh session, no error


def test_inside_a_transaction_it_still_asks_the_server(monkeypatch):
    from django.db import transaction

    asked = []
    real = DjangoWrapper.is_usable
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: asked.append(1) or real(self))
    with transaction.atomic():
        _backend_pid()
        assert connection.is_usable() is True
    assert asked == [1]


def test_a_closed_connection_is_not_usable():
    _backend_pid()
    connection.connection.close()
    assert connection.is_usable() is False
