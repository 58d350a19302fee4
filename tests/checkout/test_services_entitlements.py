import pytest

from checkout.models import Entitlement, EntitlementEvent
from checkout.services.entitlements import (
    entitlement_grant,
    entitlement_restore,
    entitlement_revoke,
    entitlement_suspend,
)
from config.models import AuditLogEntry
from tests.checkout.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_grant_is_once_per_order_with_the_offers_access_details():
    order = OrderFactory()
    first = entitlement_grant(order=order, payment=None)
    second = entitlement_grant(order=order, payment=None)

    assert first.pk == second.pk
    assert first.status == Entitlement.Status.ACTIVE
    assert first.access_name == order.offer.access_name
    assert first.access_url == order.offer.access_url
    assert len(first.access_code) == 14 and first.access_code.count("-") == 2
    assert EntitlementEvent.objects.filter(entitlement=first).count() == 1
    assert AuditLogEntry.objects.filter(action="entitlement_grant").count() == 1


def test_suspend_restore_revoke_are_idempotent_and_recorded():
    order = OrderFactory()
    entitlement_grant(order=order, payment=None)

    for _ in range(2):
        e = entitlement_suspend(order=order, cause="dispute_opened")
    assert e.status == Entitlement.Status.SUSPENDED and e.suspended_at is not None
    for _ in range(2):
        e = entitlement_restore(order=order, cause="dispute_won")
    assert e.status == Entitlement.Status.ACTIVE and e.suspended_at is None
    for _ in range(2):
        e = entitlement_revoke(order=order, cause="refunded")
    assert e.status == Entitlement.Status.REVOKED and e.revoked_at is not None

    # Revoked is final: nothing brings it back.
    assert entitlement_restore(order=order, cause="dispute_won").status == "revoked"
    # Every move is on record, the refused restore too; a repeat of the current state is not.
    assert list(e.events.values_list("to_status", "outcome")) == [
        ("active", "applied"),
        ("suspended", "applied"),
        ("active", "applied"),
        ("revoked", "applied"),
        ("active", "refused"),
    ]
    actions = list(AuditLogEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        "entitlement_grant",
        "entitlement_suspend",
        "entitlement_restore",
        "entitlement_revoke",
    ]


def test_services_on_an_order_without_access_do_nothing():
    order = OrderFactory()
    assert entitlement_suspend(order=order, cause="dispute_opened") is None
    assert entitlement_revoke(order=order, cause="refunded") is None
    assert not Entitlement.objects.exists()
