"""The customer portal's writes: the buyer's card on file, and paying an order's balance.

The magic links the portal is opened with are checkout/portal/links.py.
"""

from __future__ import annotations

import logging

from django.db import transaction

from checkout.models import Order, Subscription
from checkout.services.accounting import order_payment_record, order_totals
from checkout.services.pricing import charge_minimum
from checkout.services.subscriptions import subscription_card_replace
from payments.models import OPEN_STATUSES, PAID_STATUSES, Customer, Payment
from payments.services import (
    customer_card_prove,
    customer_card_save,
    customer_ensure,
    customer_setup_intent_start,
    payment_start,
)

logger = logging.getLogger(__name__)


def portal_customer(*, email: str, name: str = "") -> Customer:
    """The buyer's payments Customer (created at Stripe on first use)."""
    return customer_ensure(email=email, name=name)


def portal_card_setup_start(*, email: str, name: str = "") -> str:
    """Start a SetupIntent for the buyer's new card; the browser confirms it."""
    customer = portal_customer(email=email, name=name)
    return customer_setup_intent_start(
        customer=customer, metadata={"purpose": "portal_card"}
    ).client_secret


def portal_card_save(*, email: str, payment_method_id: str, setup_intent_id: str) -> Customer:
    """Make the card the buyer just saved in the portal their card on file, and the card their
    subscriptions renew with. Only the card the portal's own SetupIntent for this buyer
    produced is accepted (CardNotProven otherwise; nothing is attached or changed)."""
    customer = portal_customer(email=email)
    payment_method_id = customer_card_prove(
        customer=customer, setup_intent_id=setup_intent_id, payment_method_id=payment_method_id
    )
    customer = customer_card_save(customer=customer, payment_method_id=payment_method_id)
    renewing = Subscription.objects.filter(order__email__iexact=email).exclude(
        status=Subscription.Status.CANCELED
    )
    for subscription_id in renewing.values_list("pk", flat=True):
        subscription_card_replace(
            subscription_id=subscription_id, customer=customer, payment_method_id=payment_method_id
        )
    return customer


class BalanceNotPayable(Exception):
    """Nothing to pay, or no saved card to pay with."""


class BalanceBelowCardMinimum(BalanceNotPayable):
    """What is owed is below Stripe's minimum charge for the currency: no card can pay it."""


BALANCE_BELOW_CARD_MINIMUM = (
    "The amount still due is smaller than the smallest card payment our card processor accepts, "
    "so it cannot be paid by card. Nothing was charged. Please write to us and we will settle it "
    "with you another way."
)


def order_balance_pay(*, order: Order, customer: Customer, return_url: str = "") -> Payment:
    """Pay the order's balance with the saved card, once per attempt, on-session (`return_url`
    is where the bank sends the buyer back after a check that leaves the page).

    What is owed is computed under the order's lock from the payments themselves, not from the
    cached `order.balance`, which lags behind a payment that succeeded (a webhook after 3DS)
    until `order_payment_record` runs. A balance attempt still in flight (3DS, processing, a
    timeout being checked) is returned instead of starting a second one. The key counts
    finished attempts, so a retry after a decline is a new PaymentIntent. Raises
    BalanceNotPayable when nothing is owed (nothing is changed), and PaymentMismatch if the
    balance changed while an attempt was being created.
    """
    if not customer.payment_method_id:
        raise BalanceNotPayable("no saved card")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in (Order.Status.CANCELED, Order.Status.REFUNDED):
            raise BalanceNotPayable("nothing to pay")
        # Read after the lock: every payment as last committed.
        payments = list(order.payments.order_by("created_at", "pk"))
        balance_attempts = [p for p in payments if p.attempt_kind == Payment.AttemptKind.BALANCE]
        # An open balance attempt may still take money: never start another beside it.
        in_flight = next((p for p in balance_attempts if p.status in OPEN_STATUSES), None)
        owed = max(order.total - order_totals(payments=payments).secured, 0)
        if owed <= 0:
            raise BalanceNotPayable("nothing to pay")
        if in_flight is None and owed < charge_minimum(order.currency):
            raise BalanceBelowCardMinimum(f"{owed} is below the card minimum")
        finished = sum(
            1
            for p in balance_attempts
            if p.status in (Payment.Status.FAILED, Payment.Status.CANCELED, *PAID_STATUSES)
        )
        currency = order.currency
    if in_flight is not None:
        # Resume it under its own key and amount: payment_start returns it as it is once it has
        # reached Stripe, and never creates a second intent for it.
        key, amount, currency = in_flight.idempotency_key, in_flight.amount, in_flight.currency
    else:
        key, amount = f"order:{order.pk}:balance:{finished + 1}", owed
    payment = payment_start(
        idempotency_key=key,
        amount=amount,
        currency=currency,
        customer=customer,
        payment_method_id=in_flight.payment_method_id if in_flight else customer.payment_method_id,
        attempt_kind=Payment.AttemptKind.BALANCE,
        order_id=order.pk,
        return_url=return_url,
    )
    if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.FAILED):
        order_payment_record(payment_id=payment.pk)
    return payment
