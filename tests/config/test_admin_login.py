"""Brute-force lockouts on the admin login (django-axes with the rules in config/auth.py),
through the real login view, the real middleware and the real database."""

import logging
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from config.models import AuditLogEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USERNAME = 5
    settings.ADMIN_LOGIN_FAILURES_PER_IP = 20
    settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    settings.ADMIN_LOGIN_DELAY_SECONDS = 0.1
    settings.ADMIN_LOGIN_DELAY_MAX_SECONDS = 0.4


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


def wrong_password(response, client) -> bool:
    return (
        response.status_code == 200
        and "_auth_user_id" not in client.session
        and "Please enter the correct username and password"
        in response.context["form"].non_field_errors()[0]
    )


def locked(response, client) -> bool:
    return (
        response.status_code == 429
        and "_auth_user_id" not in client.session
        and "Too many failed sign-ins" in response.content.decode()
    )


def fail(username: str, times: int, *, ip: str = ATTACKER, **headers) -> list:
    return [admin_login(username, "wrong-password", ip=ip, **headers) for _ in range(times)]


def test_five_wrong_passwords_lock_the_username_for_that_client_only(staff):
    # The username is counted as typed, ignoring case and surrounding spaces.
    answers = fail("ada", 3) + fail("ADA", 1) + fail(" Ada", 1)
    assert [wrong_password(*answer) for answer in answers[:4]] == [True] * 4
    assert locked(*answers[4])  # the fifth failure locks, and says so

    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER))
    # Anyone can type Ada's username: from her own office she still gets in.
    assert logged_in(*admin_login("ada", PASSWORD, ip=OFFICE))
    # And the attacker's address is not locked for other usernames (5 of its 20).
    assert logged_in(*admin_login("bob", PASSWORD, ip=ATTACKER))


def test_the_fifth_wrong_password_locks_not_the_fourth(staff):
    fail("ada", 4)
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))
    fail("ada", 1)
    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER))


def test_the_lock_ends_after_the_cool_off(staff):
    fail("ada", 5)
    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER))

    # Fifteen minutes and a second later (axes reads the attempts' times, not a clock of ours).
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    )
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))


def test_tries_while_locked_do_not_extend_the_lock(staff):
    fail("ada", 5)
    first = AccessAttempt.objects.get()
    fail("ada", 3)
    assert AccessAttempt.objects.get().failures_since_start == first.failures_since_start == 5


def test_wrong_passwords_over_many_usernames_lock_the_client(staff, settings):
    for n in range(19):  # a password spray: one try per username, none near its own limit
        fail(f"user{n}", 1)
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))
    fail("user19", 1)  # the twentieth

    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER))
    # A forged X-Forwarded-For does not get the attacker a new address (no proxies trusted) ...
    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.1"))
    # ... and the usernames are not locked: from elsewhere Ada logs in.
    assert logged_in(*admin_login("ada", PASSWORD, ip=OFFICE))

    # Behind one trusted proxy the address the proxy saw is the one counted.
    settings.TRUSTED_PROXY_COUNT = 1
    via_proxy = {"ip": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"192.0.2.1, {ATTACKER}"}
    assert locked(*admin_login("bob", PASSWORD, **via_proxy))
    via_proxy["HTTP_X_FORWARDED_FOR"] = f"{ATTACKER}, {OFFICE}"
    assert logged_in(*admin_login("bob", PASSWORD, **via_proxy))


def test_an_ipv6_sprayer_is_counted_per_64_network_not_per_address(staff):
    # One subscriber's /64 holds billions of addresses: each try from a fresh one still counts.
    for n in range(20):
        fail(f"user{n}", 1, ip=f"2001:db8:aa:bb::{n + 1:x}")

    assert locked(*admin_login("ada", PASSWORD, ip="2001:db8:aa:bb::beef"))
    assert logged_in(*admin_login("ada", PASSWORD, ip="2001:db8:aa:cc::1"))  # another network


def test_each_lock_is_logged_and_audited_once_without_the_password(staff, caplog):
    caplog.set_level(logging.WARNING, logger="config.auth")
    fail("ada", 5)
    fail("ada", 3)  # more tries while locked
    admin_login("ada", PASSWORD, ip=ATTACKER)

    entry = AuditLogEntry.objects.get(action__startswith="auth.")
    assert entry.action == "auth.login_locked"
    assert entry.actor is None
    assert entry.detail["username"] == "ada"
    assert (entry.detail["ip"], entry.detail["client"]) == (ATTACKER, ATTACKER)
    assert entry.detail["locked"] == ["username"]
    warnings = [r for r in caplog.records if r.name == "config.auth"]
    assert len(warnings) == 1
    assert "'ada'" in warnings[0].getMessage() and ATTACKER in warnings[0].getMessage()
    assert PASSWORD not in caplog.text and "wrong-password" not in caplog.text
    assert not AccessAttempt.objects.filter(post_data__contains="wrong-password").exists()

    # The client's own lock, later, is a second entry.
    for n in range(15):
        fail(f"user{n}", 1)
    locks = list(
        AuditLogEntry.objects.filter(action__startswith="auth.")
        .order_by("pk")
        .values_list("detail", flat=True)
    )
    assert [(lock["username"], lock["locked"]) for lock in locks] == [
        ("ada", ["username"]),
        ("user14", ["ip"]),
    ]


def test_a_distributed_guess_at_one_username_is_slowed_down_never_locked(staff, settings):
    def timed_attempt(password: str, ip: str):
        started = time.monotonic()
        answer = admin_login("ada", password, ip=ip)
        return time.monotonic() - started, answer

    # The delays are scaled up from the fixture's, and the login page is rendered once before
    # anything is timed, so that a loaded machine's first request is not taken for a delay.
    settings.ADMIN_LOGIN_DELAY_SECONDS = 0.2
    settings.ADMIN_LOGIN_DELAY_MAX_SECONDS = 0.8
    assert Client().get("/admin/login/").status_code == 200
    # Four clients fail once each: no delay yet, no lock.
    for n in range(4):
        elapsed, answer = timed_attempt("wrong-password", f"192.0.2.{n + 1}")
        assert wrong_password(*answer) and elapsed < 0.2
    # From the limit on, every attempt at "ada" waits, longer each time, up to the maximum.
    delays = []
    for n in range(4, 9):
        elapsed, answer = timed_attempt("wrong-password", f"192.0.2.{n + 1}")
        assert wrong_password(*answer)
        delays.append(elapsed)
    assert delays[1] >= 0.2 and delays[2] >= 0.4 and delays[-1] >= 0.8
    assert delays[-1] < 2.4  # capped at ADMIN_LOGIN_DELAY_MAX_SECONDS
    # Ada herself, from her office, is slowed down too, but gets in.
    elapsed, answer = timed_attempt(PASSWORD, OFFICE)
    assert logged_in(*answer) and elapsed >= 0.8
    # Another username is not slowed down.
    started = time.monotonic()
    assert logged_in(*admin_login("bob", PASSWORD, ip="192.0.2.200"))
    assert time.monotonic() - started < 0.8


def test_the_async_path_is_locked_too(staff):
    from asgiref.sync import async_to_sync
    from django.contrib.auth import aauthenticate
    from django.test import RequestFactory

    fail("ada", 5)
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=ATTACKER)
    assert async_to_sync(aauthenticate)(request, username="ada", password=PASSWORD) is None
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=ATTACKER)
    assert async_to_sync(aauthenticate)(request, username="bob", password=PASSWORD) == staff["bob"]


def test_admin_staff_see_and_clear_lockouts_in_the_admin(staff):
    fail("ada", 5)
    assert locked(*admin_login("ada", PASSWORD, ip=ATTACKER))
    keeper = get_user_model().objects.create_user("keeper", password=PASSWORD, is_staff=True)
    keeper.groups.add(Group.objects.get(name="Admin"))
    client = Client()
    client.force_login(keeper)

    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "ada" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="ada")
    cleared = client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert cleared.status_code == 302
    assert logged_in(*admin_login("ada", PASSWORD, ip=ATTACKER))


def test_sales_staff_cannot_clear_lockouts(staff):
    from tests.leads.factories import SalesUserFactory

    fail("ada", 5)
    client = Client()
    client.force_login(SalesUserFactory())
    assert client.get("/admin/axes/accessattempt/").status_code == 403
