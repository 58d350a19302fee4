"""The staff home (the admin index): the signed-in user's work, in their role, each item a count
and a link to its filtered change list showing the same rows."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dunning.models import DunningCase
from leads.models import Lead
from payments.models import Discrepancy, WebhookEvent
from tests.checkout.factories import OfferFactory
from tests.dunning.factories import case_opened, checkout_declined
from tests.leads.factories import capture_lead
from tests.payments.factories import payment_create
from tests.staff import staff_sign_in, staff_user


def signed_in(*groups: str, username: str = "worker"):
    user = staff_user(username, *groups)
    client = Client()
    staff_sign_in(client, user)
    return user, client


def items(client) -> dict:
    page = client.get("/admin/")
    assert page.status_code == 200
    return {item.key: item for item in page.context["work_items"]}


def due(lead: Lead, owner, minutes: int) -> None:
    Lead.objects.filter(pk=lead.pk).update(
        owner=owner, first_response_due_at=timezone.now() + timedelta(minutes=minutes)
    )


@pytest.mark.django_db(transaction=True)  # cases open from on-commit news of the declines
def test_sales_see_their_leads_near_the_sla_and_their_cases_with_amounts_per_currency(
    localstripe, celery_eager, settings
):
    settings.OTP_REQUIRED_FOR_STAFF = True
    settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD = 10  # four declines on the one test card
    settings.DUNNING_DEFAULT_TIMEZONE = "Europe/London"
    settings.DUNNING_SUPPORT_PHONE = "+44 20 7946 0958"
    seller, client = signed_in("Sales", username="seller")
    colleague = staff_user("colleague", "Sales")
    late, soon, later, theirs = (capture_lead() for _ in range(4))
    due(late, seller, -30)
    due(soon, seller, 20)
    due(later, seller, 180)
    due(theirs, colleague, -30)

    euro_a, _ = checkout_declined(price=15_000)
    euro_b, _ = checkout_declined(price=2_500)
    yen, _ = checkout_declined(offer=OfferFactory(price_amount=5_000, currency="JPY"))
    shared, _ = checkout_declined(price=9_900)
    mine = [case_opened(order) for order in (euro_a, euro_b, yen)]
    case_opened(shared)  # the shared queue: not "mine"
    DunningCase.objects.filter(pk__in=[c.pk for c in mine]).update(owner=seller)

    home = items(client)
    # Sales' role: no discrepancies, dead events or receipts.
    assert set(home) == {"my_leads_sla", "my_dunning_cases", "holds_lapsing"}
    assert home["my_leads_sla"].count == 2
    listing = client.get(home["my_leads_sla"].url)
    assert {lead.pk for lead in listing.context["cl"].queryset} == {late.pk, soon.pk}

    cases = home["my_dunning_cases"]
    assert cases.count == 3
    assert cases.amounts == ["€175.00", "¥5,000"]  # never one sum across currencies
    listing = client.get(cases.url)
    assert {c.pk for c in listing.context["cl"].queryset} == {c.pk for c in mine}
    page = client.get("/admin/").content.decode()
    assert "€175.00 · ¥5,000" in page and "My leads breaching or near their SLA" in page


@pytest.mark.django_db
def test_finance_see_discrepancies_dead_events_and_failed_receipts():
    _user, client = signed_in("Finance")
    payment = payment_create()
    Discrepancy.objects.create(kind="overpayment", payment=payment, amount=500, currency="eur")
    WebhookEvent.objects.create(
        stripe_event_id="evt_dead_1", type="charge.refunded", status=WebhookEvent.Status.DEAD
    )
    WebhookEvent.objects.create(stripe_event_id="evt_ok_1", type="charge.refunded")

    home = items(client)
    assert "my_leads_sla" in home  # Finance may look leads up
    assert "my_dunning_cases" in home
    assert home["discrepancies_open"].count == 1
    assert home["webhook_events_dead"].count == 1
    assert home["receipts_delivery_failed"].count == 0
    for key in ("discrepancies_open", "webhook_events_dead", "receipts_delivery_failed"):
        listing = client.get(home[key].url)
        assert listing.status_code == 200, key
        assert listing.context["cl"].result_count == home[key].count, key


@pytest.mark.django_db
def test_plain_staff_see_no_work_items():
    _user, client = signed_in()
    page = client.get("/admin/")
    assert page.context["work_items"] == []
    assert "Nothing here for your role yet" in page.content.decode()
