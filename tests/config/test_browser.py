import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.e2e


def test_staff_sign_in_to_the_admin_on_a_phone(live_server, phone_page, transactional_db):
    get_user_model().objects.create_user("fran", password="a-strong-pass-123", is_staff=True)

    phone_page.goto(f"{live_server.url}/admin/")
    phone_page.get_by_label("Username").fill("fran")
    phone_page.get_by_label("Password").fill("a-strong-pass-123")
    phone_page.get_by_role("button", name="Log in").click()

    phone_page.wait_for_url(f"{live_server.url}/admin/")
    assert "Work queues" in phone_page.content()
