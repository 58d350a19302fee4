import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command


@pytest.mark.django_db
def test_migrations_create_the_three_staff_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Sales", "Finance", "Admin"}


@pytest.mark.django_db
def test_groups_get_only_the_permissions_their_work_needs():
    sales = set(Group.objects.get(name="Sales").permissions.values_list("codename", flat=True))
    finance = Group.objects.get(name="Finance").permissions
    admin = Group.objects.get(name="Admin").permissions

    assert "view_webhookevent" not in sales
    assert finance.filter(codename="view_webhookevent").exists()
    assert admin.filter(codename="change_user").exists()
    assert not finance.filter(codename="change_user").exists()
    # Nobody may rewrite the audit trail through the admin.
    assert not admin.filter(codename__in=["change_auditlogentry", "delete_auditlogentry"]).exists()
    assert admin.filter(codename="view_auditlogentry").exists()


@pytest.mark.django_db
def test_no_group_may_delete_money_records_or_evidence():
    """Wildcards such as "payments.*" grant a model's permissions as soon as it exists; deleting
    a financial record or a piece of evidence must never come with them."""
    from django.contrib.auth.models import Permission

    kept = [
        ("payments", "payment"), ("payments", "paymentevent"), ("payments", "refund"),
        ("payments", "dispute"), ("payments", "discrepancy"), ("payments", "webhookevent"),
        ("payments", "customer"), ("checkout", "order"), ("checkout", "orderevent"),
        ("checkout", "entitlement"), ("checkout", "entitlementevent"),
        ("checkout", "notification"), ("checkout", "subscription"), ("leads", "lead"),
        ("leads", "touchpoint"), ("leads", "consentrecord"), ("leads", "consenttext"),
        ("portal", "auditlogentry"),
    ]  # fmt: skip
    for app_label, model in kept:
        delete = Permission.objects.get(
            content_type__app_label=app_label, codename=f"delete_{model}"
        )
        holders = list(delete.group_set.values_list("name", flat=True))
        assert holders == [], f"{app_label}.delete_{model} is granted to {holders}"
    # Admin keeps what it needs: offers can still be retired by deleting an unused one.
    assert Group.objects.get(name="Admin").permissions.filter(codename="delete_offer").exists()


@pytest.mark.django_db
def test_seed_demo_creates_one_user_per_group_and_is_idempotent(settings):
    settings.DEMO_STAFF_PASSWORD = "local-demo-pass"
    call_command("seed_demo")
    call_command("seed_demo")

    User = get_user_model()
    assert User.objects.filter(username__in=["sales", "finance", "admin"]).count() == 3
    for username, group in [("sales", "Sales"), ("finance", "Finance"), ("admin", "Admin")]:
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.check_password("local-demo-pass")


@pytest.mark.django_db
def test_seed_demo_without_a_demo_password_leaves_no_default_credentials(settings):
    settings.DEMO_STAFF_PASSWORD = None
    call_command("seed_demo")

    user = get_user_model().objects.get(username="admin")
    assert not user.has_usable_password()
