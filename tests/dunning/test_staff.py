"""The triage queue in the admin: what Sales see and do, what only Finance may do, and the audit
trail of every action."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.exceptions import PermissionDenied

from checkout.models import Entitlement, Order
from config.models import AuditLogEntry
from config.staff import staff_groups_sync
from dunning.models import DunningCase, DunningCaseNote, DunningPolicy
from dunning.services import dunning_case_mark_paid, dunning_case_write_off
from payments.models import Payment
from tests.checkout.factories import OfferFactory
from tests.dunning.factories import case_opened, checkout_declined, checkout_declined_by_webhook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _staff(client, group: str) -> User:
    staff_groups_sync()
    user = User.objects.create_user(group.lower(), f"{group.lower()}@example.com", "pw",
                                    is_staff=True)  # fmt: skip
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def _act(client, case, action, data=None):
    return client.post(f"/admin/dunning/dunningcase/{case.pk}/act/{action}/", data or {})


def test_the_queue_lists_open_cases_by_amount_at_risk_with_what_staff_need(client, localstripe):
    small, _ = checkout_declined_by_webhook(
        client, decline_code="insufficient_funds", offer=OfferFactory(price_amount=2_000)
    )
    big, _ = checkout_declined_by_webhook(
        client, decline_code="stolen_card", offer=OfferFactory(price_amount=90_000)
    )
    small_case, big_case = case_opened(small), case_opened(big)
    closed, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    closed_case = case_opened(closed)
    from dunning.services import dunning_case_cancel

    dunning_case_cancel(case_id=closed_case.pk, cause="test")
    _staff(client, "Sales")

    page = client.get("/admin/dunning/dunningcase/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(big.reference) < html.index(small.reference)  # biggest amount first
    assert closed.reference not in html  # the queue is what still needs work
    for text in ("€900.00", "€20.00", "stolen_card", "insufficient_funds", "Shared Sales queue",
                 "Retry the saved card", "1 sent"):  # fmt: skip
        assert text in html, text
    assert re.search(r"Hard decline", html)

    by_category = client.get("/admin/dunning/dunningcase/?category=hard").content.decode()
    assert big.reference in by_category and small.reference not in by_category
    by_offer = client.get(f"/admin/dunning/dunningcase/?order__offer__id__exact={small.offer_id}")
    assert small.reference in by_offer.content.decode()
    assert big.reference not in by_offer.content.decode()
    closed_page = client.get("/admin/dunning/dunningcase/?queue=closed").content.decode()
    assert closed.reference in closed_page and big.reference not in closed_page
    assert client.get("/admin/dunning/dunningcase/?owner=shared").status_code == 200
    from dunning.models import DunningCaseNote as Note

    Note.objects.create(case=small_case, body="Asked for a week")
    assert "Asked for a week" in client.get("/admin/dunning/dunningcase/").content.decode()
    detail = client.get(f"/admin/dunning/dunningcase/{big_case.pk}/change/").content.decode()
    assert "reported lost or stolen" in detail  # what the buyer was told, from the same table
    assert "Mark paid by bank transfer" not in detail  # a Finance action
    assert "Retry now" in detail and "Add a note" in detail
    assert small_case.pk


def test_sales_work_cases_and_each_action_is_audited(client, localstripe):
    order, _ = checkout_declined(price=7_000)
    case = case_opened(order)
    sales = _staff(client, "Sales")

    assert _act(client, case, "note", {"body": "Called, will pay Friday"}).status_code == 302
    assert _act(client, case, "pause", {"reason": "Promised to pay Friday"}).status_code == 302
    case.refresh_from_db()
    assert case.paused_at and case.next_action_at is None
    refused = _act(client, case, "retry")  # paused: refused, with the reason on the page
    assert refused.status_code == 200 and "resume it first" in refused.content.decode()
    assert _act(client, case, "resume").status_code == 302
    case.refresh_from_db()
    assert case.paused_at is None and case.next_action_at is not None

    assert _act(client, case, "retry").status_code == 302  # the saved card (0341) is declined
    assert case.attempts.get().requested_by == sales
    sent = len(mail.outbox)
    assert _act(client, case, "link").status_code == 302
    assert len(mail.outbox) == sent + 1 and "new payment link" in mail.outbox[-1].subject
    assert _act(client, case, "assign", {"owner": sales.pk}).status_code == 302
    other = DunningPolicy.objects.create(name="Gentle", offer=None)
    assert _act(client, case, "policy", {"policy": other.pk}).status_code == 302
    case.refresh_from_db()
    assert (case.owner, case.policy) == (sales, other)
    assert DunningCaseNote.objects.get().author == sales

    actions = set(AuditLogEntry.objects.filter(actor=sales).values_list("action", flat=True))
    assert actions == {
        "dunning.case_note", "dunning.case_pause", "dunning.case_resume",
        "dunning.case_retry_now", "dunning.case_link_sent", "dunning.case_assign",
        "dunning.case_policy_change",
    }  # fmt: skip

    # Only Finance marks paid or writes off.
    assert _act(client, case, "mark_paid", {"reference": "X"}).status_code == 403
    assert _act(client, case, "write_off", {"reason": "x"}).status_code == 403
    with pytest.raises(PermissionDenied):
        dunning_case_mark_paid(case_id=case.pk, actor=sales, reference="X")
    with pytest.raises(PermissionDenied):
        dunning_case_write_off(case_id=case.pk, actor=sales, reason="x")


def test_retry_now_on_a_hard_decline_is_refused_and_says_why(client, localstripe):
    order, _ = checkout_declined_by_webhook(client, decline_code="fraudulent")
    case = case_opened(order)
    _staff(client, "Sales")
    page = _act(client, case, "retry")
    assert page.status_code == 200
    assert "Hard decline (fraudulent)" in page.content.decode()
    assert "another payment method" in page.content.decode()
    assert not case.attempts.exists()
    assert AuditLogEntry.objects.filter(action="dunning.case_retry_refused").count() == 1


def test_finance_marks_a_case_paid_by_bank_transfer(client, localstripe):
    order, _ = checkout_declined(price=15_000)
    case = case_opened(order)
    finance = _staff(client, "Finance")
    assert _act(client, case, "mark_paid", {"reference": ""}).status_code == 200  # required
    answer = _act(client, case, "mark_paid", {"reference": "BANK-REF-778"})
    assert answer.status_code == 302

    case.refresh_from_db()
    order.refresh_from_db()
    assert (case.status, case.recovered_channel, case.amount_recovered) == (
        "recovered", "transfer", 15_000,
    )  # fmt: skip
    transfer = Payment.objects.get(attempt_kind="manual")
    assert (transfer.status, transfer.amount_received, transfer.stripe_payment_intent_id) == (
        "succeeded", 15_000, None,
    )  # fmt: skip
    assert transfer.metadata["bank_reference"] == "BANK-REF-778"
    assert order.status == Order.Status.PAID and Entitlement.objects.filter(order=order).exists()
    audit = AuditLogEntry.objects.get(action="dunning.case_mark_paid")
    assert audit.actor == finance and audit.detail["reference"] == "BANK-REF-778"


def test_a_partial_bank_transfer_is_typed_in_major_units(client, localstripe):
    order, _ = checkout_declined(price=15_000)
    case = case_opened(order)
    _staff(client, "Finance")
    page = _act(client, case, "mark_paid")
    assert "Amount received (EUR)" in page.content.decode()
    assert "€150.00" in page.content.decode()
    refused = _act(client, case, "mark_paid", {"reference": "B-1", "amount": "50.005"})
    assert "EUR has 2 decimals" in refused.content.decode()
    assert not Payment.objects.filter(attempt_kind="manual").exists()

    assert (
        _act(client, case, "mark_paid", {"reference": "B-1", "amount": "50.5"}).status_code == 302
    )
    transfer = Payment.objects.get(attempt_kind="manual")
    assert transfer.amount_received == 5_050


def test_finance_writes_a_case_off(client, localstripe):
    order, _ = checkout_declined_by_webhook(client, decline_code="insufficient_funds")
    case = case_opened(order)
    _staff(client, "Finance")
    assert _act(client, case, "write_off", {"reason": "Customer insolvent"}).status_code == 302
    case.refresh_from_db()
    assert (case.status, case.next_action_at) == ("exhausted", None)
    assert case.events.get(to_status="exhausted").cause == "written_off"
    assert AuditLogEntry.objects.get(action="dunning.case_write_off").detail["reason"] == (
        "Customer insolvent"
    )
    assert DunningCase.objects.get().order.status == "failed"  # the order is left as it is


def test_staff_roles_table_gives_sales_work_and_finance_money(db):
    staff_groups_sync()
    sales = set(Group.objects.get(name="Sales").permissions.values_list("codename", flat=True))
    finance = set(Group.objects.get(name="Finance").permissions.values_list("codename", flat=True))
    assert {"work_dunningcase", "view_dunningcase", "add_dunningcasenote"} <= sales
    assert "settle_dunningcase" not in sales and "change_dunningpolicy" not in sales
    assert {"settle_dunningcase", "work_dunningcase", "change_dunningmessagetemplate"} <= finance
    assert not {c for c in sales | finance if c.startswith("delete_dunning")}


def test_sales_read_a_colleagues_case_but_work_only_their_own_and_the_shared_queue(
    client, localstripe
):
    order, _ = checkout_declined()
    case = case_opened(order)
    colleague = User.objects.create_user("colleague", "c@example.com", "pw", is_staff=True)
    colleague.groups.add(Group.objects.get(name="Sales"))
    DunningCase.objects.filter(pk=case.pk).update(owner=colleague)
    _staff(client, "Sales")

    page = client.get(f"/admin/dunning/dunningcase/{case.pk}/change/")
    assert page.status_code == 200 and page.context["case_actions"] == []
    assert _act(client, case, "note", {"body": "Called"}).status_code == 403
    client.post(
        "/admin/dunning/dunningcase/",
        {"action": "pause", "_selected_action": [case.pk]},
    )
    case.refresh_from_db()
    assert case.paused_at is None

    DunningCase.objects.filter(pk=case.pk).update(owner=None)  # back in the shared queue
    assert client.get(f"/admin/dunning/dunningcase/{case.pk}/change/").context["case_actions"]
    assert _act(client, case, "note", {"body": "Called"}).status_code == 302
