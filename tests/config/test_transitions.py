"""The one shape of a status change (config/transitions.py), model by model, against Postgres.

For each model with a status: an illegal move is refused, changes nothing and leaves a refused
history row; a legal one is applied with a history row. Side effects run only once the
transaction commits, and the row lock makes racing moves take turns.
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from checkout.models import ORDER_MACHINE, Entitlement, Order, Subscription
from checkout.services.entitlements import (
    entitlement_grant,
    entitlement_restore,
    entitlement_revoke,
)
from checkout.services.orders import order_transition
from checkout.services.subscriptions import subscription_cancel, subscription_transition
from config.transitions import Outcome, transition
from leads.models import LeadStatus
from leads.services import LeadStatusRefused, lead_status_change
from payments import signals
from payments.models import Dispute, Refund, WebhookEvent
from payments.services.disputes import dispute_transition
from payments.services.refunds import refund_transition
from payments.services.transitions import payment_transition
from payments.services.webhook_events import webhook_event_transition
from tests.checkout.factories import CustomerFactory, OrderFactory, PaymentFactory
from tests.leads.factories import SalesUserFactory, capture_lead

pytestmark = pytest.mark.django_db


def test_an_illegal_order_move_is_refused_and_recorded():
    order = OrderFactory()
    order, outcome = order_transition(order_id=order.pk, to_status="canceled", cause="staff")
    assert outcome == Outcome.APPLIED

    order, outcome = order_transition(order_id=order.pk, to_status="paid", cause="late_money")
    assert outcome == Outcome.REFUSED
    order.refresh_from_db()
    assert order.status == "canceled"
    assert list(order.events.values_list("from_status", "to_status", "outcome", "cause")) == [
        ("open", "canceled", "applied", "staff"),
        ("canceled", "paid", "refused", "late_money"),
    ]


def test_side_effects_run_only_after_commit(django_capture_on_commit_callbacks):
    order = OrderFactory()
    seen: list[tuple[str, str]] = []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            transition(
                ORDER_MACHINE,
                pk=order.pk,
                to_status="awaiting_payment",
                cause="test",
                after_commit=lambda row, from_status: seen.append((from_status, row.status)),
            )
            # A refused move schedules nothing.
            transition(
                ORDER_MACHINE,
                pk=order.pk,
                to_status="refunded",
                cause="test",
                after_commit=lambda row, from_status: seen.append(("refused", row.status)),
            )
            assert seen == []
        assert seen == []  # still inside the outermost transaction
    assert len(callbacks) == 1
    assert seen == [("open", "awaiting_payment")]


def test_a_payment_signal_is_sent_after_commit_and_not_for_a_refused_move(
    django_capture_on_commit_callbacks,
):
    payment = PaymentFactory()
    received: list[tuple[int, str]] = []

    def receiver(sender, payment_id, status, **kwargs):
        received.append((payment_id, status))

    signals.payment_succeeded.connect(receiver, dispatch_uid="test_transitions")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            payment_transition(payment_id=payment.pk, to_status="succeeded", cause="test")
            assert received == []
        assert received == [(payment.pk, "succeeded")]

        with django_capture_on_commit_callbacks(execute=True):
            _, outcome = payment_transition(
                payment_id=payment.pk, to_status="requires_action", cause="test"
            )
        assert outcome == Outcome.REFUSED
        assert received == [(payment.pk, "succeeded")]
    finally:
        signals.payment_succeeded.disconnect(dispatch_uid="test_transitions")
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.succeeded_at is not None
    assert list(payment.events.values_list("to_status", "outcome")) == [
        ("succeeded", "applied"),
        ("requires_action", "refused"),
    ]


def test_an_older_payment_event_is_stale_and_changes_nothing():
    payment = PaymentFactory()
    payment_transition(
        payment_id=payment.pk, to_status="processing", cause="webhook", event_created=200
    )
    _, outcome = payment_transition(
        payment_id=payment.pk, to_status="failed", cause="webhook", event_created=100
    )
    assert outcome == Outcome.STALE
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.last_event_created == 200


def test_entitlement_moves_follow_the_table():
    order = OrderFactory()
    entitlement_grant(order=order, payment=None)
    entitlement_revoke(order=order, cause="refunded")
    entitlement = entitlement_restore(order=order, cause="dispute_won")
    assert entitlement.status == Entitlement.Status.REVOKED
    assert list(entitlement.events.values_list("from_status", "to_status", "outcome")) == [
        ("", "active", "applied"),
        ("active", "revoked", "applied"),
        ("revoked", "active", "refused"),
    ]


def _subscription() -> Subscription:
    order = OrderFactory()
    now = timezone.now()
    return Subscription.objects.create(
        order=order,
        customer=CustomerFactory(),
        interval="month",
        amount=order.total,
        currency=order.currency,
        current_period_start=now,
        next_charge_at=now + timedelta(days=30),
    )


def test_subscription_moves_follow_the_table():
    subscription = _subscription()
    subscription = subscription_cancel(subscription=subscription, by="buyer")
    assert subscription.status == "canceled" and subscription.canceled_at is not None

    subscription, outcome = subscription_transition(
        subscription_id=subscription.pk, to_status="active", cause="test"
    )
    assert outcome == Outcome.REFUSED
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    assert list(subscription.events.values_list("to_status", "outcome", "cause")) == [
        ("canceled", "applied", "canceled_by_buyer"),
        ("active", "refused", "test"),
    ]


def test_lead_moves_follow_the_table_and_a_refusal_stays_on_record():
    lead = capture_lead()
    sales = SalesUserFactory()
    lead_status_change(lead=lead, to=LeadStatus.QUALIFIED, actor=sales)

    with pytest.raises(LeadStatusRefused):
        lead_status_change(lead=lead, to=LeadStatus.NEW, actor=sales)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    history = list(lead.status_events.values_list("from_status", "to_status", "outcome", "actor"))
    assert history == [
        ("new", "qualified", "applied", sales.pk),
        ("qualified", "new", "refused", sales.pk),
    ]


def _refund() -> Refund:
    payment = PaymentFactory()
    payment_transition(payment_id=payment.pk, to_status="succeeded", cause="test")
    return Refund.objects.create(
        payment=payment,
        idempotency_key=f"test:refund:{uuid.uuid4().hex}",
        amount=100,
        currency=payment.currency,
        reason="test",
    )


def test_refund_moves_follow_the_table():
    refund = _refund()
    refund, outcome = refund_transition(
        refund_id=refund.pk, to_status="succeeded", cause="refund.updated", stripe_event_id="evt_1"
    )
    assert outcome == Outcome.APPLIED
    # An older `refund.updated` saying pending never takes a refund back.
    refund, outcome = refund_transition(
        refund_id=refund.pk, to_status="pending", cause="refund.updated", stripe_event_id="evt_0"
    )
    assert outcome == Outcome.REFUSED
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert list(refund.events.values_list("to_status", "outcome", "stripe_event_id")) == [
        ("succeeded", "applied", "evt_1"),
        ("pending", "refused", "evt_0"),
    ]


def test_dispute_moves_follow_the_table():
    payment = PaymentFactory()
    dispute = Dispute.objects.create(
        payment=payment,
        stripe_dispute_id=f"dp_{uuid.uuid4().hex[:12]}",
        amount=payment.amount,
        currency=payment.currency,
        opened_at=timezone.now(),
    )
    dispute, outcome = dispute_transition(dispute_id=dispute.pk, to_status="won", cause="won")
    assert outcome == Outcome.APPLIED and dispute.closed_at is not None
    dispute, outcome = dispute_transition(dispute_id=dispute.pk, to_status="lost", cause="lost")
    assert outcome == Outcome.REFUSED
    dispute.refresh_from_db()
    assert dispute.status == "won"
    assert list(dispute.events.values_list("to_status", "outcome")) == [
        ("won", "applied"),
        ("lost", "refused"),
    ]


def test_webhook_event_moves_follow_the_table():
    event = WebhookEvent.objects.create(stripe_event_id=f"evt_{uuid.uuid4().hex}", type="x.y")
    assert not event.history.exists()  # storing a delivery writes no history row

    with transaction.atomic():
        locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        _, outcome = webhook_event_transition(
            event=locked, to_status="processed", cause="test", fields={"attempts": 5}
        )
    assert outcome == Outcome.REFUSED
    event.refresh_from_db()
    assert event.status == "received" and event.attempts == 0

    with transaction.atomic():
        locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        _, outcome = webhook_event_transition(
            event=locked, to_status="processing", cause="claimed", fields={"attempts": 1}
        )
    assert outcome == Outcome.APPLIED
    event.refresh_from_db()
    assert event.status == "processing" and event.attempts == 1
    assert list(event.history.values_list("from_status", "to_status", "outcome")) == [
        ("received", "processed", "refused"),
        ("received", "processing", "applied"),
    ]


@pytest.mark.django_db(transaction=True)
def test_racing_moves_of_one_order_take_turns_on_the_row_lock():
    """Two connections move the same open order at once. The second waits for the first's
    lock, then sees the order as the first left it: one move applies, the other finds the
    order already moved (unchanged) or refuses, never both applied from `open`."""
    order = OrderFactory()
    barrier = threading.Barrier(2)
    first_holds_lock = threading.Event()
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                _, outcomes["first"] = order_transition(
                    order_id=order.pk, to_status="paid", cause="first"
                )
                first_holds_lock.set()
                # Hold the lock while the second tries to move the order.
                threading.Event().wait(0.5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_holds_lock.set()
            connection.close()

    def second() -> None:
        try:
            barrier.wait()
            first_holds_lock.wait(5)
            _, outcomes["second"] = order_transition(
                order_id=order.pk, to_status="awaiting_payment", cause="second"
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert outcomes == {"first": Outcome.APPLIED, "second": Outcome.REFUSED}
    order = Order.objects.get(pk=order.pk)
    assert order.status == "paid"
    assert list(order.events.order_by("pk").values_list("from_status", "to_status", "outcome")) == [
        ("open", "paid", "applied"),
        # Read under the lock, after the first committed: paid, not open.
        ("paid", "awaiting_payment", "refused"),
    ]


def test_an_inbox_event_s_history_follows_the_worker_not_the_acknowledgement(deliver, admin_user):
    """A delivery is stored with no history row; the worker's steps and staff's replay each
    leave one."""
    from payments import webhooks
    from payments.services.inbox import webhook_event_replay
    from tests.stripe_helpers import stripe_event

    assert deliver(stripe_event("customer.created", {"id": "cus_x"})).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "received" and not event.history.exists()

    webhooks.webhook_event_process(event_id=event.pk)
    webhook_event_replay(event_id=event.pk, actor=admin_user)

    event.refresh_from_db()
    assert list(event.history.values_list("from_status", "to_status", "outcome", "cause")) == [
        ("received", "processing", "applied", "claimed"),
        ("processing", "ignored", "applied", "no_handler"),
        ("ignored", "received", "applied", "staff_replay"),
    ]
    assert event.history.get(cause="staff_replay").actor == admin_user
