"""Finance's admin: refunds, dead letters with replay, discrepancies with owner and resolution."""

import pytest
from django.contrib.auth.models import Group, User

from config.models import AuditLogEntry
from config.staff import staff_groups_sync
from payments.models import Discrepancy, Payment, Refund, WebhookEvent
from payments.services.charge import customer_ensure, payment_start
from payments.services.discrepancies import discrepancy_open
from tests.payments.factories import intent_event, payment_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


@pytest.fixture
def finance(client):
    staff_groups_sync()
    user = User.objects.create_user("fin", "fin@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    client.force_login(user)
    return user


def test_finance_refunds_part_of_a_payment_from_the_admin(client, finance, localstripe):
    customer = customer_ensure(email="adm@example.com", name="Adm")
    payment = payment_start(
        idempotency_key="order:9:checkout",
        amount=8_000,
        currency="gbp",
        customer=customer,
        payment_method_id="pm_card_visa",
    )
    page = client.get(f"/admin/payments/payment/{payment.pk}/refund/")
    assert page.status_code == 200
    assert "Left to refund: £80.00" in page.content.decode()
    request_key = page.context["form"].initial["request_key"]

    # Typed in pounds, the currency's own decimals; a third decimal is refused, not rounded.
    precise = {"amount": "30.001", "reason": "x", "request_key": request_key}
    refused = client.post(f"/admin/payments/payment/{payment.pk}/refund/", precise)
    assert "GBP has 2 decimals" in refused.content.decode()
    form = {"amount": "30.00", "reason": "Damaged item", "request_key": request_key}
    first = client.post(f"/admin/payments/payment/{payment.pk}/refund/", form)
    again = client.post(f"/admin/payments/payment/{payment.pk}/refund/", form)  # resubmitted

    assert first.status_code == again.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.requested_by) == (3_000, "Damaged item", finance)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 3_000)
    assert AuditLogEntry.objects.filter(action="payments.refund", actor=finance).count() == 1

    too_much = client.post(
        f"/admin/payments/payment/{payment.pk}/refund/",
        {"amount": "60", "reason": "x", "request_key": "other"},
    )
    assert too_much.status_code == 200
    assert "At most £50.00 is left to refund." in too_much.content.decode()
    assert Refund.objects.count() == 1


def test_sales_cannot_refund(client, localstripe):
    staff_groups_sync()
    user = User.objects.create_user("sal", "s@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    client.force_login(user)
    payment = payment_create(status=Payment.Status.SUCCEEDED)
    assert client.get(f"/admin/payments/payment/{payment.pk}/refund/").status_code == 403


def test_the_dead_letter_list_shows_dead_events_and_replays_them(client, finance, localstripe):
    from payments import gateway
    from payments.webhooks import webhook_event_store

    payment = payment_create()
    dead_id = webhook_event_store(
        payload=gateway.webhook_payload_from_event(
            intent_event(payment, "payment_intent.succeeded")
        )
    )
    WebhookEvent.objects.filter(pk=dead_id).update(status="dead", attempts=8, last_error="boom")
    other = payment_create()
    live_id = webhook_event_store(
        payload=gateway.webhook_payload_from_event(intent_event(other, "payment_intent.succeeded"))
    )

    listing = client.get("/admin/payments/deadletterevent/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset.values_list("pk", flat=True)) == [dead_id]

    response = client.post(
        "/admin/payments/deadletterevent/",
        {"action": "replay_events", "_selected_action": [dead_id]},
    )
    assert response.status_code == 302
    assert WebhookEvent.objects.get(pk=dead_id).status == "processed"
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert WebhookEvent.objects.get(pk=live_id).status == "received"
    assert AuditLogEntry.objects.filter(action="payments.webhook_event_replay").count() == 1


def test_finance_assigns_and_resolves_a_discrepancy(client, finance):
    payment = payment_create(status=Payment.Status.SUCCEEDED)
    discrepancy, _ = discrepancy_open(
        kind="overpayment", order_id=None, payment_id=payment.pk, amount=500, currency="eur"
    )
    url = f"/admin/payments/discrepancy/{discrepancy.pk}/change/"
    assert client.get(url).status_code == 200

    missing_note = client.post(
        url, {"owner": finance.pk, "resolution_note": "", "mark_resolved": "on"}
    )
    assert missing_note.status_code == 200
    assert Discrepancy.objects.get().status == "open"

    client.post(url, {"owner": finance.pk, "resolution_note": "", "mark_resolved": ""})
    assert Discrepancy.objects.get().owner == finance

    client.post(
        url,
        {"owner": finance.pk, "resolution_note": "Refunded the 5 EUR extra", "mark_resolved": "on"},
    )
    discrepancy.refresh_from_db()
    assert discrepancy.status == "resolved"
    assert discrepancy.resolved_at is not None
    assert discrepancy.resolution_note == "Refunded the 5 EUR extra"
    actions = list(
        AuditLogEntry.objects.filter(actor=finance).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["payments.discrepancy_assign", "payments.discrepancy_resolve"]


def test_every_payments_admin_page_opens_for_finance(client, finance):
    payment = payment_create(status=Payment.Status.SUCCEEDED, amount_received=12_500)
    for path in [
        "/admin/payments/webhookevent/",
        "/admin/payments/webhookevent/?unmatched__exact=1",
        "/admin/payments/deadletterevent/",
        "/admin/payments/payment/",
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/payments/refund/",
        "/admin/payments/dispute/",
        "/admin/payments/discrepancy/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
    page = client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert b"Refund this payment" in page.content


def test_an_event_page_shows_the_body_as_received_with_its_nul_bytes_escaped(client, finance):
    from payments.webhooks import webhook_dead_letter_store

    letter_id = webhook_dead_letter_store(
        body=b'{"id": "evt_1"}\x00tail', reason="body is not JSON"
    )

    page = client.get(f"/admin/payments/webhookevent/{letter_id}/change/")

    assert page.status_code == 200
    assert b"{&quot;id&quot;: &quot;evt_1&quot;}\\x00tail" in page.content
    assert b"body is not JSON" in page.content
