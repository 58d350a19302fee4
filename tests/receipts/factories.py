"""Paid orders for receipts tests: rows from the checkout factories, moved through the real
payment state machine (which sends the real signals)."""

from __future__ import annotations

import uuid

from checkout.models import Offer
from payments.models import Customer, Payment, Refund
from payments.services import payment_transition
from tests.checkout.factories import OfferFactory, OrderFactory, PaymentFactory


def card_customer(email: str, *, brand: str = "visa", last4: str = "4242") -> Customer:
    customer, _ = Customer.objects.get_or_create(email=email)
    customer.name = "Ada Buyer"
    customer.payment_method_id = f"pm_test_{uuid.uuid4().hex[:10]}"
    customer.card_brand, customer.card_last4 = brand, last4
    customer.save()
    return customer


def paid_order(
    *,
    price: int = 12_000,
    currency: str = "EUR",
    country: str = "GB",
    tax_rate_bp: int = 2000,
    email: str | None = None,
    name: str = "Ada Lovelace",
    offer_name: str = "Practical course",
    billing_type: str = Offer.BillingType.ONE_TIME,
    deposit: int | None = None,
    pay: int | None = None,
):
    """An order priced tax-inclusive at `price`, with one line as checkout freezes it, and a
    succeeded payment of `pay` (the whole total, or the deposit). Returns (order, payment)."""
    offer = OfferFactory(
        name=offer_name,
        price_amount=price,
        currency=currency,
        billing_type=billing_type,
        deposit_amount=deposit,
    )
    net = (2 * price * 10_000 + (10_000 + tax_rate_bp)) // (2 * (10_000 + tax_rate_bp))
    tax = price - net
    email = email or f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    due_now = deposit or price
    order = OrderFactory(
        offer=offer,
        email=email,
        name=name,
        billing_country=country,
        currency=currency,
        subtotal=net,
        tax=tax,
        total=price,
        amount_due_now=due_now,
        lines=[
            {
                "kind": "offer", "offer_id": offer.pk, "slug": offer.slug, "name": offer_name,
                "billing_type": billing_type, "interval": "", "unit_amount": price,
                "quantity": 1, "currency": currency, "subtotal": net, "tax": tax,
                "total": price, "tax_rate_bp": tax_rate_bp, "tax_label": "VAT",
                "tax_inclusive": True,
            }
        ],
    )  # fmt: skip
    payment = pay_order(order, amount=pay or due_now)
    return order, payment


def pay_order(order, *, amount: int, kind: str = Payment.AttemptKind.CHECKOUT) -> Payment:
    customer = card_customer(order.email)
    payment = PaymentFactory(
        order=order,
        amount=amount,
        customer=customer,
        payment_method_id=customer.payment_method_id,
        attempt_kind=kind,
        stripe_payment_intent_id=f"pi_test{uuid.uuid4().hex[:20]}",
    )
    payment, outcome = payment_transition(
        payment_id=payment.pk,
        to_status=Payment.Status.SUCCEEDED,
        cause="test",
        # Radar's verdict as a confirm brings it: checkout need not ask Stripe for it.
        fields={"amount_received": amount, "risk_level": "normal", "risk_score": 12},
    )
    assert outcome == "applied"
    return payment


def refund_succeeded(payment: Payment, amount: int, *, reason: str = "Asked for") -> Refund:
    """A refund Stripe confirmed, recorded as payments records it, and the payment moved on."""
    from payments.selectors import payment_refunds_total

    refund = Refund.objects.create(
        payment=payment,
        idempotency_key=f"test:refund:{uuid.uuid4().hex}",
        stripe_refund_id=f"re_test{uuid.uuid4().hex[:20]}",
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status=Refund.Status.SUCCEEDED,
    )
    total = payment_refunds_total(payment=payment)
    received = payment.amount_received or payment.amount
    payment_transition(
        payment_id=payment.pk,
        to_status=(
            Payment.Status.REFUNDED if total >= received else Payment.Status.PARTIALLY_REFUNDED
        ),
        cause="test_refund",
        fields={"amount_refunded": total},
    )
    return refund
