"""A small history whose every figure the KPI tests work out by hand (see test_selectors.py).

Rows are written directly: statuses and times here are starting points for reads, not
transitions under test (reporting only reads)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from checkout.models import Notification
from dunning.models import DunningCase
from dunning.services.policies import dunning_policy_default_ensure
from leads.models import Lead, SlaState
from payments.models import Discrepancy, Dispute, Payment
from receipts.models import Receipt
from tests.checkout.factories import OfferFactory, OrderFactory

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def at(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def lead_make(
    email: str, *, created: datetime, ready=False, sla=SlaState.NONE, owner=None, **extra
):
    extra.setdefault("name", email.split("@")[0].title())
    return Lead.objects.create(
        email=email, created_at=created, is_ready=ready, sla_state=sla, owner=owner, **extra
    )


def payment_make(order, *, status, created, amount, kind="checkout", succeeded=None, **extra):
    paid = status in ("succeeded", "partially_refunded", "refunded", "disputed")
    payment = Payment.objects.create(
        order=order,
        idempotency_key=f"test:{uuid.uuid4().hex}",
        stripe_payment_intent_id=f"pi_test{uuid.uuid4().hex[:20]}",
        amount=amount,
        amount_received=amount if paid else 0,
        currency=order.currency.lower(),
        status=status,
        attempt_kind=kind,
        succeeded_at=succeeded,
        **extra,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=created)
    payment.refresh_from_db()
    return payment


def receipt_make(payment, *, issued, delivered_by=None):
    n = Receipt.objects.count() + 1
    return Receipt.objects.create(
        series="R", year=2026, sequence=n, number=f"R-2026-{n:06d}", issued_at=issued,
        snapshot={}, currency=payment.currency.upper(), net=payment.amount, tax=0,
        total=payment.amount, buyer_email=payment.order.email, buyer_name=payment.order.name,
        payment=payment, order=payment.order, status="stored", delivered_by=delivered_by,
    )  # fmt: skip


def notification_make(payment, status):
    return Notification.objects.create(
        key=f"receipt:{payment.pk}:{uuid.uuid4().hex[:6]}", kind=Notification.Kind.RECEIPT,
        order=payment.order, payment=payment, to_email=payment.order.email, status=status,
    )  # fmt: skip


def case_make(order, *, failed_payment, opened, category, status, channel="", recovered=0):
    return DunningCase.objects.create(
        order=order, cause=DunningCase.Cause.CHECKOUT, policy=dunning_policy_default_ensure(),
        status=status, amount=order.total, currency=order.currency,
        amount_recovered=recovered, recovered_channel=channel, failed_payment=failed_payment,
        category=category, failed_at=opened - timedelta(minutes=30), opened_at=opened,
        recovered_at=opened + timedelta(days=1) if status == "recovered" else None,
    )  # fmt: skip


def discrepancy_make(payment, *, detected, resolved_after=None):
    row = Discrepancy.objects.create(
        kind=Discrepancy.Kind.OVERPAYMENT, payment=payment, order=payment.order, amount=100,
        currency=payment.currency, status="resolved" if resolved_after else "open",
    )  # fmt: skip
    Discrepancy.objects.filter(pk=row.pk).update(
        detected_at=detected, resolved_at=detected + resolved_after if resolved_after else None
    )
    return row


@dataclass
class History:
    leads: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)
    payments: dict = field(default_factory=dict)


def november_history(*, owner=None) -> History:
    """November 2026 (and a little of October, outside the period):

    leads L1..L4 created in November, L5 in October; orders O1 (L1, Course A, EUR 100.00),
    O2 (L2, Course B, EUR 50.00), O3 (L3, Course A), O5 (L5, Course J, JPY 5,000);
    payments P1 paid at 11-02 10:00 (20.00 refunded), P2 failed then P3 a dunning retry paid
    11-05 09:00, P4 failed (its case exhausted) then P5 a second checkout paid 11-06 12:00 and
    disputed, P6 JPY paid 11-10, P7 still processing.
    """
    h = History()
    a = OfferFactory(name="Course A", price_amount=10_000, currency="EUR")
    b = OfferFactory(name="Course B", price_amount=5_000, currency="EUR")
    j = OfferFactory(name="Course J", price_amount=5_000, currency="JPY")
    h.leads = {
        "L1": lead_make("l1@example.com", created=at(2), ready=True, sla=SlaState.MET, owner=owner),
        "L2": lead_make("l2@example.com", created=at(3), ready=True, sla=SlaState.MET_LATE),
        "L3": lead_make("l3@example.com", created=at(4), sla=SlaState.BREACHED),
        "L4": lead_make("l4@example.com", created=at(5), sla=SlaState.PENDING, owner=owner),
        "L5": lead_make("l5@example.com", created=at(20, month=10), sla=SlaState.MET),
    }
    o = h.orders = {
        "O1": OrderFactory(offer=a, lead=h.leads["L1"]),
        "O2": OrderFactory(offer=b, lead=h.leads["L2"]),
        "O3": OrderFactory(offer=a, lead=h.leads["L3"]),
        "O5": OrderFactory(offer=j, lead=h.leads["L5"]),
    }
    p = h.payments = {
        "P1": payment_make(
            o["O1"], status="partially_refunded", created=at(2, 10), succeeded=at(2, 10),
            amount=10_000, amount_refunded=2_000,
        ),
        "P2": payment_make(o["O2"], status="failed", created=at(3, 10), amount=5_000),
        "P3": payment_make(
            o["O2"], status="succeeded", created=at(5), succeeded=at(5), amount=5_000, kind="retry"
        ),
        "P4": payment_make(o["O3"], status="failed", created=at(4, 12), amount=10_000),
        "P5": payment_make(
            o["O3"], status="disputed", created=at(6, 12), succeeded=at(6, 12), amount=10_000
        ),
        "P6": payment_make(
            o["O5"], status="succeeded", created=at(10), succeeded=at(10), amount=5_000
        ),
        "P7": payment_make(o["O1"], status="processing", created=at(20), amount=10_000),
    }  # fmt: skip
    # What checkout's accounting keeps on each order from its payments.
    for key, paid in (("O1", 10_000), ("O2", 5_000), ("O3", 10_000), ("O5", 5_000)):
        type(o[key]).objects.filter(pk=o[key].pk).update(amount_paid=paid)
    Dispute.objects.create(
        payment=p["P5"], stripe_dispute_id="dp_test1", amount=10_000, currency="eur",
        opened_at=at(8),
    )  # fmt: skip
    case_make(o["O2"], failed_payment=p["P2"], opened=at(3, 10), category="soft",
              status="recovered", channel="retry", recovered=5_000)  # fmt: skip
    case_make(o["O3"], failed_payment=p["P4"], opened=at(4, 12), category="hard",
              status="exhausted")  # fmt: skip
    case_make(o["O5"], failed_payment=None, opened=at(9), category="soft", status="recovered",
              channel="link", recovered=5_000)  # fmt: skip
    discrepancy_make(p["P1"], detected=at(7), resolved_after=timedelta(hours=4))
    discrepancy_make(p["P3"], detected=at(8), resolved_after=timedelta(hours=10))
    discrepancy_make(p["P5"], detected=at(9))
    discrepancy_make(p["P6"], detected=at(1, month=10), resolved_after=timedelta(hours=1))
    receipt_make(p["P1"], issued=at(2, 11), delivered_by=notification_make(p["P1"], "sent"))
    receipt_make(p["P3"], issued=at(5, 10), delivered_by=notification_make(p["P3"], "bounced"))
    receipt_make(p["P5"], issued=at(6, 13))
    receipt_make(p["P6"], issued=at(10, 10), delivered_by=notification_make(p["P6"], "sent"))
    return h
