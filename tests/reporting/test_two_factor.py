"""The dashboard and the exports are admin pages: staff who have typed their password but not
yet their code are sent to the code step, and see no figure and no row."""

import pytest

from config.models import AuditLogEntry
from tests.staff import staff_sign_in, staff_user

pytestmark = pytest.mark.django_db

URLS = [
    "/staff/reports/finance/?date_from=2026-11-01&date_to=2026-11-30",
    "/staff/reports/exports/payments/?date_from=2026-11-01&date_to=2026-11-30&format=csv",
]


@pytest.mark.parametrize("url", URLS)
def test_a_finance_user_without_the_second_factor_is_sent_to_sign_in(client, settings, url):
    settings.OTP_REQUIRED_FOR_STAFF = True
    client.force_login(staff_user("fiona", "Finance"))  # the password step only
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not AuditLogEntry.objects.filter(action="reporting.export").exists()


@pytest.mark.parametrize("url", URLS)
def test_with_the_code_the_same_user_gets_the_page(client, settings, url):
    settings.OTP_REQUIRED_FOR_STAFF = True
    staff_sign_in(client, staff_user("fiona", "Finance"))
    assert client.get(url).status_code == 200
