"""Two-factor sign-in for staff (config/two_factor.py) through the real admin login, the real
session and django-otp's real devices; and the staff session's security."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.middleware import StaffIdleSessionMiddleware
from config.models import AuditLogEntry
from tests.staff import staff_sign_in, staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def required(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True


@pytest.fixture
def ada():
    return get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD, is_staff=True)


def code_now(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def password_login(client: Client, username: str = "ada", password: str = PASSWORD):
    return client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )


def test_a_staff_user_without_an_authenticator_must_enrol_and_gets_backup_codes_once(ada):
    client = Client()
    client.get("/admin/login/")
    anonymous_key = client.session.session_key
    response = password_login(client)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/two-factor/enrol/")
    # The password alone opens nothing in the admin.
    password_key = client.session.session_key
    assert password_key != anonymous_key
    listing = client.get("/admin/payments/payment/")
    assert listing.status_code == 302 and listing["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/")["Location"].startswith("/admin/two-factor/enrol/")

    page = client.get(response["Location"])
    body = page.content.decode()
    # The QR code is inline SVG markup: no script, no style attribute, nothing from elsewhere.
    assert "<svg" in body and "otpauth" not in body.split("<svg", 1)[0]
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert "style=" not in body.split("<svg", 1)[1].split("</svg>", 1)[0]
    device = TOTPDevice.objects.get(user=ada)
    assert device.confirmed is False

    wrong = client.post(page.request["PATH_INFO"], {"token": "000000", "next": "/admin/"})
    assert "does not match" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    # django-otp's throttle: right after a wrong code, even the right one waits.
    throttled = client.post(page.request["PATH_INFO"], {"token": code_now(device)})
    assert "Too many wrong codes" in throttled.content.decode()
    time.sleep(1.1)

    done = client.post(page.request["PATH_INFO"], {"token": code_now(device), "next": "/admin/"})
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.session.session_key != password_key  # rotated again once verified
    assert client.get("/admin/").status_code == 200
    # Stored by django-otp, shown only on that answer.
    assert StaticToken.objects.filter(device__user=ada).count() == 10
    assert not any(code in client.get("/admin/").content.decode() for code in codes)
    assert AuditLogEntry.objects.filter(action="auth.second_factor_enrolled").count() == 1

    # The next sign-in asks for a code, no longer for an enrolment.
    other = Client()
    assert password_login(other)["Location"].startswith("/admin/two-factor/?")


def test_an_enrolled_user_is_asked_for_a_code_and_a_wrong_one_is_refused(ada):
    device = TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    client = Client()
    response = password_login(client)
    assert response["Location"] == "/admin/two-factor/?next=/admin/"
    refused = client.post("/admin/two-factor/", {"token": "123456", "next": "/admin/"})
    assert refused.status_code == 200 and "That code is not right" in refused.content.decode()
    assert client.get("/admin/").status_code == 302
    time.sleep(1.1)  # django-otp's throttle after a wrong code

    answer = client.post("/admin/two-factor/", {"token": code_now(device, steps_ahead=1)})
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_each_backup_code_signs_in_once(ada):
    TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    from config.two_factor import staff_backup_codes_issue

    first, second, *_ = staff_backup_codes_issue(user=ada)
    client = Client()
    password_login(client)
    assert client.post("/admin/two-factor/", {"token": first}).status_code == 302
    assert client.get("/admin/").status_code == 200
    entry = AuditLogEntry.objects.get(action="auth.backup_code_used")
    assert entry.detail == {"backup_codes_left": 9}

    again = Client()
    password_login(again)
    reused = again.post("/admin/two-factor/", {"token": first})
    assert "That code is not right" in reused.content.decode()
    time.sleep(1.1)  # django-otp's throttle after a wrong code
    assert again.post("/admin/two-factor/", {"token": f" {second.upper()} "}).status_code == 302


def test_the_login_lockout_stays_in_front_of_the_second_factor(ada, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USERNAME = 5
    TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    for _ in range(5):
        password_login(Client(), password="wrong-password")
    client = Client()
    response = password_login(client)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/two-factor/")["Location"] == "/admin/login/"


def test_an_idle_staff_session_ends(ada, settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 30 * 60
    client = Client()
    staff_sign_in(client, ada)
    assert client.get("/admin/").status_code == 200
    session = client.session
    assert session.get_expiry_age() == 30 * 60
    session[StaffIdleSessionMiddleware.SESSION_KEY] = int(time.time()) - 30 * 60 - 5
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert "_auth_user_id" not in client.session


def test_a_recent_staff_session_lives_on(ada):
    client = Client()
    staff_sign_in(client, ada)
    session = client.session
    session[StaffIdleSessionMiddleware.SESSION_KEY] = int(time.time()) - 29 * 60
    session.save()
    assert client.get("/admin/").status_code == 200


def test_in_local_mode_a_password_is_enough_unless_the_user_enrolled(ada, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    client = Client()
    assert password_login(client)["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200

    bob = staff_user("bob")
    bob.set_password(PASSWORD)
    bob.save()
    TOTPDevice.objects.create(user=bob, name="app", confirmed=True)
    other = Client()
    assert password_login(other, "bob")["Location"].startswith("/admin/two-factor/")
    assert other.get("/admin/").status_code == 302


def test_the_session_rotates_on_password_login(ada, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    client = Client()
    client.get("/admin/login/")
    session = client.session
    session["probe"] = 1
    session.save()
    before = client.session.session_key
    password_login(client)
    assert client.session.session_key != before


def test_a_staff_user_can_sign_out_before_the_code(ada):
    TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    client = Client()
    password_login(client)
    page = client.get("/admin/two-factor/")
    assert 'action="/admin/two-factor/sign-out/"' in page.content.decode()
    assert client.get("/admin/two-factor/sign-out/").status_code == 405  # a link cannot do it
    response = client.post("/admin/two-factor/sign-out/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session


def test_the_api_wants_the_full_sign_in_too(ada, rf):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.request import Request

    from config.two_factor import StaffSignedIn

    def allowed(user, verified: bool) -> bool:
        request = rf.get("/api/v1/anything/")
        request.session = SessionStore()
        user.otp_device = object() if verified else None
        user.is_verified = lambda: verified
        api_request = Request(request)
        api_request.user = user  # as SessionAuthentication leaves it
        return StaffSignedIn().has_permission(api_request, view=None)

    assert allowed(ada, verified=True) is True
    assert allowed(ada, verified=False) is False  # the password alone
    buyer = get_user_model().objects.create_user("buyer", "b@example.com", PASSWORD)
    assert allowed(buyer, verified=True) is False
    api_request = Request(rf.get("/api/v1/anything/"))
    api_request.user = AnonymousUser()
    assert StaffSignedIn().has_permission(api_request, view=None) is False


def test_a_signed_in_user_renews_the_backup_codes_and_the_old_ones_stop_working(ada):
    from config.two_factor import staff_backup_codes_issue

    client = Client()
    staff_sign_in(client, ada)  # a confirmed authenticator, verified
    old = staff_backup_codes_issue(user=ada)
    home = client.get("/admin/").content.decode()
    assert "You have 10 unused backup codes" in home

    page = client.get("/admin/two-factor/backup-codes/")
    assert page.status_code == 200 and "stop working" in page.content.decode()
    renewed = client.post("/admin/two-factor/backup-codes/")
    new = re.findall(r"<li><code>([a-z0-9]+)</code></li>", renewed.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditLogEntry.objects.filter(action="auth.backup_codes_renewed").count() == 1

    other = Client()
    password_login(other)
    assert (
        "That code is not right"
        in other.post("/admin/two-factor/", {"token": old[0]}).content.decode()
    )
    time.sleep(1.1)  # django-otp's throttle after a wrong code
    assert other.post("/admin/two-factor/", {"token": new[0]}).status_code == 302


def test_renewing_backup_codes_wants_the_full_sign_in(ada):
    TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    client = Client()
    password_login(client)
    response = client.post("/admin/two-factor/backup-codes/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
