"""Brute-force limits on the admin login (config/auth.py), through the real login view, with
real Redis as the counters' store."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from config.models import AuditLogEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"
WINDOW = 15 * 60
START = 1_800_000_000.0 + 10  # 10 s into a window (1_800_000_000 is a multiple of 900)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USERNAME = 5
    settings.ADMIN_LOGIN_FAILURES_PER_IP = 20
    settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = WINDOW


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The limiter's clock, moved by the tests (a real-time window edge would make them flaky)."""
    from config import auth

    now = {"t": START}
    monkeypatch.setattr(auth, "clock", lambda: now["t"])
    return now


@pytest.fixture
def staff():
    users = get_user_model().objects
    return {
        name: users.create_user(name, f"{name}@example.com", PASSWORD, is_staff=True)
        for name in ["ada", "bob"]
    }


def admin_login(username: str, password: str, *, ip: str, **headers):
    """POST the admin login form from a fresh browser at `ip`; the response and the client."""
    client = Client()
    response = client.post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
        **headers,
    )
    return response, client


def logged_in(response, client) -> bool:
    return response.status_code == 302 and "_auth_user_id" in client.session


def refused(response, client) -> list[str]:
    """The form's errors on a refused login (and that nobody was logged in)."""
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    return response.context["form"].non_field_errors()


def fail(username: str, times: int, *, ip: str = ATTACKER) -> list[str]:
    errors = []
    for _ in range(times):
        errors = refused(*admin_login(username, "wrong-password", ip=ip))
    return errors


def test_after_five_wrong_passwords_the_right_one_is_refused_with_the_usual_error(staff):
    # The username is counted as typed, ignoring case and surrounding spaces.
    wrong_password_errors = fail("ada", 3)
    fail("ADA", 1)
    fail(" Ada", 1)

    errors = refused(*admin_login("ada", PASSWORD, ip=ATTACKER))
    assert errors == wrong_password_errors
    assert "Please enter the correct username and password" in errors[0]
    # The lock is on the username, whichever address tries it.
    refused(*admin_login("ada", PASSWORD, ip=OFFICE))


def test_the_fifth_wrong_password_locks_not_the_fourth(staff):
    fail("ada", 4)
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))
    fail("ada", 5)
    refused(*admin_login("ada", PASSWORD, ip=ATTACKER))


def test_another_username_from_another_ip_still_logs_in(staff):
    fail("ada", 5)
    refused(*admin_login("ada", PASSWORD, ip=OFFICE))
    assert logged_in(*admin_login("bob", PASSWORD, ip=OFFICE))
    assert logged_in(*admin_login("bob", PASSWORD, ip=ATTACKER))  # the IP has 5 of its 20


def test_the_async_path_is_limited_too(staff):
    from asgiref.sync import async_to_sync
    from django.contrib.auth import aauthenticate

    fail("ada", 5)
    assert async_to_sync(aauthenticate)(username="ada", password=PASSWORD) is None
    assert async_to_sync(aauthenticate)(username="bob", password=PASSWORD) == staff["bob"]


def test_the_lock_ends_with_its_window(staff, clock):
    fail("ada", 5)
    clock["t"] = START + WINDOW - 11  # the window's last second
    refused(*admin_login("ada", PASSWORD, ip=OFFICE))

    clock["t"] = START + WINDOW - 10  # the next window
    assert logged_in(*admin_login("ada", PASSWORD, ip=OFFICE))


def test_wrong_passwords_over_many_usernames_lock_the_ip(staff, settings):
    for n in range(20):  # a password spray: one try per username, none near its own limit
        fail(f"user{n}", 1)

    refused(*admin_login("ada", PASSWORD, ip=ATTACKER))
    # A forged X-Forwarded-For does not get the attacker a new address (no proxies trusted) ...
    refused(*admin_login("ada", PASSWORD, ip=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.1"))
    # ... and the username is not locked: from elsewhere Ada logs in.
    assert logged_in(*admin_login("ada", PASSWORD, ip=OFFICE))

    # Behind one trusted proxy the address the proxy saw is the one counted.
    settings.LEADS_TRUSTED_PROXY_COUNT = 1
    via_proxy = {"ip": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"192.0.2.1, {ATTACKER}"}
    refused(*admin_login("bob", PASSWORD, **via_proxy))
    via_proxy["HTTP_X_FORWARDED_FOR"] = f"{ATTACKER}, {OFFICE}"
    assert logged_in(*admin_login("bob", PASSWORD, **via_proxy))


def test_an_ipv6_sprayer_is_counted_per_64_network_not_per_address(staff):
    # One subscriber's /64 holds billions of addresses: each try from a fresh one still counts.
    for n in range(20):
        fail(f"user{n}", 1, ip=f"2001:db8:aa:bb::{n + 1:x}")

    refused(*admin_login("ada", PASSWORD, ip="2001:db8:aa:bb::beef"))
    assert logged_in(*admin_login("ada", PASSWORD, ip="2001:db8:aa:cc::1"))  # another network


def test_a_login_forgets_the_usernames_failures_but_not_the_ips(staff):
    fail("ada", 4)
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))
    fail("ada", 4)  # Ada's typos before she got it right no longer count
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))

    # The IP has 8 failures and keeps them: 12 more lock it, logins in between or not.
    for n in range(12):
        fail(f"user{n}", 1)
    refused(*admin_login("bob", PASSWORD, ip=ATTACKER))


def test_each_lock_is_logged_and_audited_once_without_the_password(staff, caplog):
    caplog.set_level(logging.WARNING, logger="config.auth")
    fail("ada", 5)
    fail("ada", 3)  # more tries while locked
    refused(*admin_login("ada", PASSWORD, ip=ATTACKER))

    entry = AuditLogEntry.objects.get()
    assert entry.action == "auth.login_locked"
    assert entry.actor is None
    assert entry.detail == {
        "username": "ada",
        "ip": ATTACKER,
        "locked": ["username"],
        "until": "2027-01-15T08:15:00+00:00",
    }
    warnings = [r for r in caplog.records if r.name == "config.auth"]
    assert len(warnings) == 1
    assert "'ada'" in warnings[0].getMessage() and ATTACKER in warnings[0].getMessage()
    assert PASSWORD not in caplog.text and "wrong-password" not in caplog.text

    # The IP's own lock, later in the window, is a second entry.
    for n in range(11):
        fail(f"user{n}", 1)
    locks = list(AuditLogEntry.objects.order_by("pk").values_list("detail", flat=True))
    assert [(lock["username"], lock["locked"]) for lock in locks] == [
        ("ada", ["username"]),
        ("user10", ["ip"]),
    ]


def test_without_redis_staff_still_log_in_and_the_outage_is_logged(staff, settings, caplog):
    from devtools.embedded import free_port

    caplog.set_level(logging.WARNING, logger="config.auth")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/1",  # nothing listens there
        }
    }

    fail("ada", 6)
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))
    assert "Login limits unavailable" in caplog.text
    assert not AuditLogEntry.objects.exists()
