import pytest
from django.core.mail import send_mail

from config.sms import send_sms
from tests.staff import staff_sign_in, staff_user


@pytest.fixture
def local_outbox(settings, tmp_path):
    settings.DEV_OUTBOX_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    settings.SMS_BACKEND = "config.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"
    return tmp_path


@pytest.fixture
def staff_client(client, db):
    """An Admin-group member: the outbox shows every magic link and access code sent."""
    staff_sign_in(client, staff_user("staffer", "Admin"))
    return client


def test_outbox_lists_email_and_sms_for_the_admin_group(local_outbox, staff_client):
    send_mail("Your receipt R-2026-000001", "Thanks for paying.", None, ["buyer@example.com"])
    send_sms(to="+447700900123", body="Your payment failed; pay here: https://x.test/pay/abc")

    response = staff_client.get("/dev/outbox/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Your receipt R-2026-000001" in html
    assert "buyer@example.com" in html
    assert "+447700900123" in html
    assert "pay here" in html


def test_outbox_is_staff_only(local_outbox, client, db):
    response = client.get("/dev/outbox/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("groups", [(), ("Sales",), ("Finance",), ("Sales", "Finance")])
def test_outbox_is_for_the_admin_group_only(local_outbox, client, db, settings, groups):
    settings.OTP_REQUIRED_FOR_STAFF = True
    staff_sign_in(client, staff_user("staffer", *groups))
    assert client.get("/dev/outbox/").status_code == 403


def test_outbox_wants_the_second_factor(local_outbox, client, db, settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    client.force_login(staff_user("staffer", "Admin"))  # password only
    response = client.get("/dev/outbox/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_outbox_does_not_exist_outside_local_mode(settings, staff_client):
    settings.DEV_OUTBOX_ENABLED = False
    assert staff_client.get("/dev/outbox/").status_code == 404


def test_sms_outbox_in_tests_is_in_memory():
    from config import sms

    send_sms(to="+14155550100", body="hello")
    assert [m.to for m in sms.outbox] == ["+14155550100"]
