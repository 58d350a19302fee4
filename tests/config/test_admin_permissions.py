"""The permission matrix: what each staff role may do in the admin, enforced server-side.

For each role (Sales, Finance, Admin, and plain staff in no group) and every model in the admin,
the change list and the add page answer 200 or 403, and the change and delete URLs answer 403 or
let the request through (to the admin's "no such object" redirect: the check comes before the
lookup, so a missing row proves the permission without a row per model). Each download and
per-object action URL answers 403 or 404 the same way. The table below is the roles table
(config/staff.py) as staff experience it, written out by hand: a change to a role shows here.
"""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from leads.models import Lead
from tests.leads.factories import capture_lead
from tests.staff import staff_sign_in, staff_user

pytestmark = pytest.mark.django_db

ROLES = {"Sales": ("Sales",), "Finance": ("Finance",), "Admin": ("Admin",), "staff": ()}
MISSING = 999_999

# model: (Sales, Finance, Admin); plain staff get nothing anywhere. v = view (list and page),
# a = add, c = change, d = delete.
MATRIX = {
    "auth.Group": ("", "", "v"),
    "auth.User": ("", "", "vac"),
    "axes.AccessAttempt": ("", "", "vd"),
    "axes.AccessFailureLog": ("", "", "v"),
    "axes.AccessLog": ("", "", "v"),
    "checkout.Entitlement": ("v", "v", "vac"),
    "checkout.Notification": ("", "vc", "vc"),  # its emails carry magic links: not Sales
    "checkout.Offer": ("v", "v", "vacd"),
    "checkout.Order": ("v", "vc", "vc"),
    "checkout.PaymentCsat": ("", "v", "v"),  # the buyers' answers: read-only, for Finance and Admin
    "checkout.Subscription": ("v", "v", "vac"),
    "checkout.TaxRate": ("v", "v", "vacd"),
    "dunning.DunningCase": ("v", "v", "v"),  # worked through its actions (below)
    "dunning.DunningMessageTemplate": ("v", "vac", "vac"),
    "dunning.DunningPolicy": ("v", "vac", "vac"),
    "leads.ConsentRecord": ("v", "", "v"),
    "leads.ConsentText": ("v", "", "va"),
    "leads.Lead": ("vc", "v", "vc"),  # Finance looks buyers up; nobody deletes a lead
    "leads.ReadinessPolicy": ("v", "", "vacd"),
    "leads.RoutingRule": ("v", "", "vacd"),
    "leads.SalesOwner": ("v", "", "vacd"),
    "leads.Touchpoint": ("v", "", "v"),
    "otp_static.StaticDevice": ("", "", "vd"),
    "otp_totp.TOTPDevice": ("", "", "vd"),
    "payments.DeadLetterEvent": ("", "vc", "vc"),
    "payments.Discrepancy": ("", "vc", "vc"),
    "payments.Dispute": ("", "vc", "vc"),
    "payments.Payment": ("v", "vc", "vc"),
    "payments.Refund": ("", "vc", "vc"),
    "payments.WebhookEvent": ("", "vc", "vc"),
    "portal.AuditLogEntry": ("", "", "v"),
    "receipts.BuyerBillingDetails": ("", "vac", "vac"),
    "receipts.CreditNote": ("", "vc", "vc"),
    "receipts.Receipt": ("", "vc", "vc"),
    "receipts.ReceiptExport": ("", "va", "va"),
    "reporting.FinanceReport": ("", "v", "v"),  # its list opens the finance dashboard
}

# URL: the roles that get through (404 for the missing object); everyone else gets 403.
DOWNLOADS_AND_ACTIONS = {
    f"/admin/receipts/receipt/{MISSING}/pdf/": {"Finance", "Admin"},
    f"/admin/receipts/creditnote/{MISSING}/pdf/": {"Finance", "Admin"},
    f"/admin/receipts/receiptexport/{MISSING}/download/": {"Finance", "Admin"},
    f"/admin/payments/payment/{MISSING}/refund/": {"Finance", "Admin"},
    f"/admin/dunning/dunningcase/{MISSING}/act/retry/": {"Sales", "Finance", "Admin"},
    f"/admin/dunning/dunningcase/{MISSING}/act/mark_paid/": {"Finance", "Admin"},
    f"/admin/dunning/dunningcase/{MISSING}/act/write_off/": {"Finance", "Admin"},
    f"/admin/dunning/dunningmessagetemplate/{MISSING}/preview/": {"Sales", "Finance", "Admin"},
}


@pytest.fixture
def clients(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    signed_in = {}
    for role, groups in ROLES.items():
        client = Client()
        staff_sign_in(client, staff_user(f"matrix-{role.lower()}", *groups))
        signed_in[role] = client
    return signed_in


def observed(client, model) -> str:
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    letters = ""
    listing = client.get(reverse(f"{prefix}_changelist"))
    if listing.status_code == 200 or (
        listing.status_code == 302 and listing["Location"] == reverse("reporting:finance-dashboard")
    ):
        letters += "v"
    if client.get(reverse(f"{prefix}_add")).status_code == 200:
        letters += "a"
    if client.post(reverse(f"{prefix}_change", args=[MISSING]), {}).status_code != 403:
        letters += "c"
    if client.get(reverse(f"{prefix}_delete", args=[MISSING])).status_code != 403:
        letters += "d"
    return letters


def test_every_admin_model_is_in_the_matrix():
    assert sorted(m._meta.label for m in admin.site._registry) == sorted(MATRIX)


def test_each_role_gets_exactly_what_the_matrix_says(clients):
    got = {}
    for model in admin.site._registry:
        label = model._meta.label
        got[label] = tuple(observed(clients[role], model) for role in ("Sales", "Finance", "Admin"))
        assert observed(clients["staff"], model) == "", label
    assert got == MATRIX


def test_each_download_and_action_url_is_refused_to_the_roles_without_it(clients, settings):
    settings.DEV_OUTBOX_ENABLED = True
    refused = {}
    for url, allowed in {**DOWNLOADS_AND_ACTIONS, "/dev/outbox/": {"Admin"}}.items():
        for role, client in clients.items():
            status = client.get(url).status_code
            expected = (200 if url == "/dev/outbox/" else 404) if role in allowed else 403
            if status != expected:
                refused[(url, role)] = status
    assert refused == {}


def test_the_admin_refuses_everyone_who_owes_the_second_factor(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    client = Client()
    client.force_login(staff_user("no-code", "Admin"))  # the password, no code
    for url in ["/admin/", "/admin/payments/payment/", f"/admin/receipts/receipt/{MISSING}/pdf/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_sales_work_their_own_and_unassigned_leads_and_read_the_rest(settings):
    seller = staff_user("seller", "Sales")
    colleague = staff_user("colleague", "Sales")
    client = Client()
    staff_sign_in(client, seller)
    own, unassigned, theirs = capture_lead(), capture_lead(), capture_lead()
    Lead.objects.filter(pk=own.pk).update(owner=seller)
    Lead.objects.filter(pk=unassigned.pk).update(owner=None)
    Lead.objects.filter(pk=theirs.pk).update(owner=colleague)

    for lead, editable in [(own, True), (unassigned, True), (theirs, False)]:
        page = client.get(f"/admin/leads/lead/{lead.pk}/change/")
        assert page.status_code == 200  # every lead is readable
        assert ('name="name"' in page.content.decode()) is editable
        post = client.post(f"/admin/leads/lead/{lead.pk}/change/", {"name": "Changed"})
        assert (post.status_code == 403) is not editable

    # A bulk action touches only what the seller may work.
    client.post(
        "/admin/leads/lead/",
        {"action": "log_first_contact", "_selected_action": [own.pk, theirs.pk]},
    )
    assert Lead.objects.get(pk=own.pk).first_contacted_at is not None
    assert Lead.objects.get(pk=theirs.pk).first_contacted_at is None
