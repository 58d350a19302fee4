import pytest
from django.contrib.auth import get_user_model

from config.audit import audit_log_record
from config.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def test_the_audit_log_cannot_be_changed_or_deleted_even_by_a_superuser(client):
    admin_user = get_user_model().objects.create_superuser("ada", "ada@example.com", "pw-123456789")
    audit_log_record(actor=admin_user, action="test.action", target=admin_user, detail={"a": 1})
    entry = AuditLogEntry.objects.get(action="test.action")
    client.force_login(admin_user)

    assert client.get(f"/admin/portal/auditlogentry/{entry.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/portal/auditlogentry/{entry.pk}/change/", {"action": "tampered"}
    )
    assert response.status_code == 403
    assert client.post(f"/admin/portal/auditlogentry/{entry.pk}/delete/").status_code == 403
    assert client.get("/admin/portal/auditlogentry/add/").status_code == 403
    entry.refresh_from_db()
    # Only the entry itself (and the superuser's creation, which is audited too).
    assert (entry.action, AuditLogEntry.objects.exclude(action="staff.user_created").count()) == (
        "test.action",
        1,
    )
