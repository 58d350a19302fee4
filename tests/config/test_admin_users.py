"""Staff accounts in the admin: only a superuser grants superuser status, groups or permissions,
and every change to a staff user's groups, permissions or status is in the audit log."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from config.models import AuditLogEntry
from tests.staff import staff_sign_in, staff_user

pytestmark = pytest.mark.django_db


def change_form_data(user, **overrides) -> dict:
    data = {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


@pytest.fixture
def admin_member(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    user = staff_user("keeper", "Admin")
    client = Client()
    staff_sign_in(client, user)
    return user, client


def test_an_admin_group_member_cannot_make_themselves_superuser_even_by_a_forged_post(
    admin_member,
):
    user, client = admin_member
    page = client.get(f"/admin/auth/user/{user.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="is_superuser"' not in body and 'name="groups"' not in body
    assert 'name="user_permissions"' not in body

    finance = Group.objects.get(name="Finance")
    everything = Permission.objects.get(codename="change_group")
    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        change_form_data(
            user, is_superuser="on", groups=[finance.pk], user_permissions=[everything.pk]
        ),
    )
    assert response.status_code == 302  # saved what the form has, ignored the rest
    user.refresh_from_db()
    assert user.is_superuser is False
    assert list(user.groups.values_list("name", flat=True)) == ["Admin"]
    assert not user.user_permissions.exists()


def test_an_admin_group_member_cannot_edit_or_delete_a_superuser(admin_member):
    _user, client = admin_member
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1234567")
    assert (
        client.post(f"/admin/auth/user/{root.pk}/change/", change_form_data(root)).status_code
        == 403
    )
    assert client.post(f"/admin/auth/user/{root.pk}/password/", {
        "password1": "new-pass-98765", "password2": "new-pass-98765",
    }).status_code == 403  # fmt: skip
    assert client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.check_password("pw-1234567")


def test_an_admin_group_member_cannot_change_a_groups_permissions(admin_member):
    _user, client = admin_member
    sales = Group.objects.get(name="Sales")
    assert client.get(f"/admin/auth/group/{sales.pk}/change/").status_code == 200  # view only
    before = set(sales.permissions.values_list("pk", flat=True))
    response = client.post(
        f"/admin/auth/group/{sales.pk}/change/",
        {"name": "Sales", "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 403
    assert set(sales.permissions.values_list("pk", flat=True)) == before


def test_a_superuser_grants_groups_and_status_and_each_change_is_audited(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1234567")
    client = Client()
    staff_sign_in(client, root)
    bob = staff_user("bob")
    finance = Group.objects.get(name="Finance")
    response = client.post(
        f"/admin/auth/user/{bob.pk}/change/",
        change_form_data(bob, is_superuser="on", groups=[finance.pk]),
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.is_superuser and list(bob.groups.values_list("name", flat=True)) == ["Finance"]

    status = AuditLogEntry.objects.get(action="staff.status_changed", target_id=str(bob.pk))
    assert status.actor == root
    assert status.detail == {"username": "bob", "changed": {"is_superuser": [False, True]}}
    groups = AuditLogEntry.objects.get(action="staff.groups_changed", target_id=str(bob.pk))
    assert groups.actor == root and groups.detail == {"username": "bob", "added": ["Finance"]}


def test_changes_outside_the_admin_are_audited_too():
    bob = staff_user("bob", "Sales")
    created = AuditLogEntry.objects.get(action="staff.user_created", target_id=str(bob.pk))
    assert created.actor is None and created.detail["is_staff"] is True

    bob.is_active = False
    bob.save()
    Group.objects.get(name="Admin").user_set.add(bob)  # from the group's side
    bob.groups.remove(Group.objects.get(name="Sales"))
    bob.groups.clear()
    bob.user_permissions.add(Permission.objects.get(codename="view_payment"))

    entries = [
        (e.action, e.detail)
        for e in AuditLogEntry.objects.filter(target_id=str(bob.pk)).order_by("pk")
    ]
    assert entries[1:] == [
        ("staff.groups_changed", {"username": "bob", "added": ["Sales"]}),
        ("staff.status_changed", {"username": "bob", "changed": {"is_active": [True, False]}}),
        ("staff.groups_changed", {"username": "bob", "added": ["Admin"]}),
        ("staff.groups_changed", {"username": "bob", "removed": ["Sales"]}),
        ("staff.groups_changed", {"username": "bob", "removed": ["Admin"]}),
        ("staff.permissions_changed", {"username": "bob", "added": ["payments.view_payment"]}),
    ]
    # A save that changes none of them writes nothing.
    bob.first_name = "Bob"
    bob.save()
    assert AuditLogEntry.objects.filter(target_id=str(bob.pk)).count() == len(entries)
