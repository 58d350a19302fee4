"""What the customer portal shows, in plain words. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from checkout.models import Entitlement, Order, Subscription
from checkout.notifications import failure_advice
from checkout.selectors import entitlement_suspension_cause
from checkout.services.pricing import charge_minimum
from config.money import money_format
from payments.models import Customer, Payment

_P = Payment.Status

PAYMENT_WORDS = {
    _P.SUCCEEDED: "Paid",
    _P.AUTHORIZED: "On hold on your card (not taken yet)",
    _P.FAILED: "Did not go through",
    _P.REQUIRES_ACTION: "Waiting for your bank's check",
    _P.PROCESSING: "Being processed",
    _P.UNKNOWN: "Being checked with your bank",
    _P.REQUIRES_PAYMENT_METHOD: "Not completed",
    _P.CANCELED: "Canceled",
    _P.PARTIALLY_REFUNDED: "Paid, part refunded",
    _P.REFUNDED: "Refunded",
    _P.DISPUTED: "Questioned with your bank (a dispute)",
}


@dataclass
class PaymentRow:
    payment: Payment
    words: str
    amount: str
    reason: str = ""


@dataclass
class OrderRow:
    order: Order
    status_words: str
    tone: str  # ok, warn or bad: the badge colour
    total: str
    paid: str
    refunded: str
    balance: str
    can_pay_balance: bool
    # Owed, but less than the smallest card payment Stripe takes in the currency.
    balance_below_card_minimum: bool
    entitlement: Entitlement | None
    access_words: str
    payments: list[PaymentRow] = field(default_factory=list)


def portal_orders(*, email: str) -> QuerySet[Order]:
    return (
        Order.objects.filter(email__iexact=email)
        .select_related("offer", "entitlement")
        .prefetch_related("payments")
        .order_by("-created_at")
    )


def portal_buyer_name(*, email: str) -> str:
    """The name on this address's orders ("" if none), for the card they save."""
    return Order.objects.filter(email__iexact=email).values_list("name", flat=True).first() or ""


def portal_balance_payment_latest(*, order: Order) -> Payment | None:
    """The order's latest payment of its balance from the portal."""
    return (
        order.payments.filter(attempt_kind=Payment.AttemptKind.BALANCE)
        .order_by("-created_at", "-pk")
        .first()
    )


def _order_words(order: Order) -> tuple[str, str]:
    s = order.status
    money = lambda amount: money_format(amount, order.currency)  # noqa: E731
    if s == Order.Status.PAID:
        return "Paid in full", "ok"
    if s == Order.Status.PARTIALLY_PAID:
        return f"Part paid: {money(order.balance)} still to pay", "warn"
    if s == Order.Status.AWAITING_PAYMENT and order.amount_authorized:
        return f"On hold: {money(order.amount_authorized)} reserved on your card", "ok"
    if s == Order.Status.FAILED:
        return "Your payment did not go through", "bad"
    if s == Order.Status.CANCELED:
        return "Canceled", "bad"
    if s == Order.Status.REFUNDED:
        return "Refunded", "warn"
    return "Waiting for payment", "warn"


# Why access is paused, by the cause of the suspension (checkout.services.accounting).
_SUSPENDED_WORDS = {
    "hold_lapsed": "Paused: the reservation on your card ended. Pay the order to get it back",
    "hold_released": "Paused: the reservation on your card was released",
}


def _access_words(entitlement: Entitlement | None) -> str:
    if entitlement is None:
        return ""
    cause = entitlement_suspension_cause(entitlement)
    if cause in _SUSPENDED_WORDS:
        return _SUSPENDED_WORDS[cause]
    return {
        Entitlement.Status.ACTIVE: "Active",
        Entitlement.Status.SUSPENDED: "Paused while your bank looks into a dispute",
        Entitlement.Status.REVOKED: "Ended",
    }[entitlement.status]


def portal_order_rows(*, email: str) -> list[OrderRow]:
    rows = []
    for order in portal_orders(email=email):
        words, tone = _order_words(order)
        entitlement = getattr(order, "entitlement", None) if _has_entitlement(order) else None
        payments = []
        for p in sorted(order.payments.all(), key=lambda p: (p.created_at, p.pk)):
            reason = ""
            if p.status == _P.FAILED:
                reason = failure_advice(
                    decline_code=p.decline_code, failure_code=p.failure_code
                ).what_happened
            payments.append(
                PaymentRow(
                    payment=p,
                    words=PAYMENT_WORDS.get(p.status, p.get_status_display()),
                    amount=money_format(p.amount, p.currency),
                    reason=reason,
                )
            )
        owed = (
            order.balance > 0
            and order.status not in (Order.Status.CANCELED, Order.Status.REFUNDED)
            and not any(p.status in (_P.PROCESSING, _P.UNKNOWN) for p in order.payments.all())
        )
        below_minimum = order.balance < charge_minimum(order.currency)
        rows.append(
            OrderRow(
                order=order,
                status_words=words,
                tone=tone,
                total=money_format(order.total, order.currency),
                paid=money_format(order.amount_paid, order.currency),
                refunded=money_format(order.amount_refunded, order.currency),
                balance=money_format(order.balance, order.currency),
                can_pay_balance=owed and not below_minimum,
                balance_below_card_minimum=owed and below_minimum,
                entitlement=entitlement,
                access_words=_access_words(entitlement),
                payments=payments,
            )
        )
    return rows


def _has_entitlement(order: Order) -> bool:
    try:
        order.entitlement  # noqa: B018
    except Entitlement.DoesNotExist:
        return False
    return True


def portal_saved_card(*, email: str) -> Customer | None:
    """The card on file of the buyer who proved this email (the portal's own Customer)."""
    customer = Customer.objects.filter(email=email.strip().lower(), email_verified=True).first()
    return customer if customer and customer.payment_method_id else None


def portal_card_for_order(*, email: str, order: Order) -> Customer | None:
    """The card a balance payment of `order` uses: the buyer's card on file, or else the card
    that paid this order at checkout (its own Customer's)."""
    saved = portal_saved_card(email=email)
    if saved is not None:
        return saved
    own = order.customer
    return own if own is not None and own.payment_method_id else None


def portal_receipts(*, email: str, token: str) -> list[dict]:
    """The buyer's receipts and credit notes, from the selector the receipts app provides
    (settings.PORTAL_RECEIPTS_SELECTOR; empty without one). Each has a download `url` built
    with the portal `token`, which the download checks again."""
    path = settings.PORTAL_RECEIPTS_SELECTOR
    if not path:
        return []
    return list(import_string(path)(email=email, token=token))


def portal_subscriptions(*, email: str) -> list:
    """The buyer's recurring offers that are still renewing or overdue, newest first."""
    return list(
        Subscription.objects.filter(order__email__iexact=email)
        .exclude(status=Subscription.Status.CANCELED)
        .select_related("order__offer")
        .order_by("-created_at")
    )
