import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from config.models import AuditLogEntry
from leads.models import Lead
from tests.checkout.factories import OfferFactory

pytestmark = pytest.mark.django_db


def test_sales_can_send_a_lead_a_checkout_link_for_an_offer(client):
    offer = OfferFactory(slug="masterclass", name="Masterclass")
    lead = Lead.objects.create(email="lin@example.com", name="Lin Buyer")
    client.force_login(
        get_user_model().objects.create_superuser("sam", "s@example.com", "pw-1234567")
    )

    confirm = client.post(
        "/admin/leads/lead/", {"action": "send_checkout_link", "_selected_action": [lead.pk]}
    )
    assert confirm.status_code == 200 and "Send the link" in confirm.content.decode()
    done = client.post(
        "/admin/leads/lead/",
        {
            "action": "send_checkout_link",
            "_selected_action": [lead.pk],
            "offer": offer.pk,
            "apply": "1",
        },
        follow=True,
    )
    assert "Sent a checkout link for Masterclass to 1 lead" in done.content.decode()
    (message,) = mail.outbox
    assert message.to == ["lin@example.com"]
    assert "/checkout/masterclass/?email=lin%40example.com&name=Lin+Buyer" in message.body
    assert AuditLogEntry.objects.filter(action="checkout.link_sent").count() == 1

    page = client.get("/checkout/masterclass/?email=lin%40example.com&name=Lin+Buyer")
    assert 'value="lin@example.com"' in page.content.decode()
