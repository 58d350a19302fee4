"""The card flow (DESIGN.md §2), the same against real Stripe and localstripe:

1. the browser saves the card with a SetupIntent (`checkout_setup_start`, then `confirmCardSetup`);
2. the server creates and confirms the PaymentIntent (`checkout_pay`), exactly once per attempt;
3. on `requires_action` the browser runs `confirmCardPayment(client_secret)` for the bank's check,
   then asks the server (`checkout_refresh`), which retrieves the intent from Stripe.

Attempts: the idempotency key is `order:<pk>:checkout:<attempt>`. A new attempt (a new Payment,
so a new PaymentIntent; a failed intent cannot be confirmed again) starts only when the previous
one failed and the buyer brings another card. Any number of concurrent "Pay" clicks with the same
card therefore land on the same Payment row, and payment_start's row lock makes one intent.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from checkout.models import SUBSCRIPTION_MACHINE, Offer, Order, Subscription
from checkout.services.accounting import order_payment_record
from checkout.services.fraud import card_key, checkout_velocity_check
from checkout.services.orders import (
    OrderNotPayable,
    order_create,
    order_flag_for_review,
    order_transition,
)
from checkout.services.pricing import (
    BELOW_MINIMUM_MESSAGE,
    PricingError,
    amount_validate,
    next_renewal,
)
from config.transitions import status_event_created
from leads.models import LeadStatus
from leads.services import lead_capture, lead_readiness, readiness_policy_active
from payments import gateway
from payments.models import OPEN_STATUSES, Customer, Payment
from payments.services import (
    customer_card_prove,
    customer_card_save,
    customer_ensure,
    customer_guest_create,
    customer_setup_intent_start,
    customer_stripe_ensure,
    payment_abandon,
    payment_create_unanswered,
    payment_refresh,
    payment_start,
)

logger = logging.getLogger(__name__)

PAYABLE_STATUSES = {Order.Status.OPEN, Order.Status.AWAITING_PAYMENT, Order.Status.FAILED}
_PM_ID = re.compile(r"^pm_[A-Za-z0-9_]{1,200}$")

# What each failure means to a buyer, and what to do next.
DECLINE_MESSAGES = {
    "card_declined": "Your bank declined this card. Nothing was charged. "
    "Try another card, or ask your bank why it was declined.",
    "insufficient_funds": "Your bank says there is not enough money on this card. "
    "Nothing was charged. Try another card.",
    "expired_card": "This card has expired. Nothing was charged. Try another card.",
    "incorrect_cvc": "The security code (CVC) did not match. Nothing was charged. "
    "Check the 3 digits on the back of the card and try again.",
    "payment_intent_authentication_failure": "Your bank's extra check was not completed, "
    "so nothing was charged. Try again and complete the check, or use another card.",
    "not_created": "We could not reach the payment processor, so nothing was charged. "
    "Please try again.",
    # Stripe's own minimum, should it be above ours (a currency not in CHECKOUT_MIN_AMOUNTS, or
    # a conversion to the account's settlement currency): no other card would do better.
    "amount_too_small": BELOW_MINIMUM_MESSAGE,
}
GENERIC_DECLINE = "The payment did not go through and nothing was charged. Try another card."
UNREACHABLE_MESSAGE = (
    "We could not reach the card processor. Nothing was charged. Please try again in a moment."
)
BLOCKED_MESSAGE = (
    "For your security we have paused card payments for this order after several unsuccessful "
    "attempts. Nothing more will be charged. Our team has been told and will email you within "
    "one working day to help you finish, by card or by bank transfer."
)
REVIEW_MESSAGE = (
    "We need to check a few details before taking payment for this order. Nothing has been "
    "charged. Our team will email you within one working day with the next step."
)


class CheckoutBlocked(Exception):
    """Card payment is not allowed for this order now; the message is safe to show."""


@dataclass(frozen=True)
class PayOutcome:
    status: str
    payment: Payment | None = None
    client_secret: str = ""
    message: str = ""


def decline_message(payment: Payment) -> str:
    return (
        DECLINE_MESSAGES.get(payment.decline_code)
        or DECLINE_MESSAGES.get(payment.failure_code)
        or GENERIC_DECLINE
    )


def order_payable_check(*, order: Order) -> None:
    """Refuse a card payment for an order that cannot take one, with a message for the buyer."""
    if order.needs_review:
        raise CheckoutBlocked(REVIEW_MESSAGE)
    if order.status not in PAYABLE_STATUSES:
        raise OrderNotPayable("This order is already settled; there is nothing to pay.")
    if order.currency.upper() != order.offer.currency.upper():
        raise OrderNotPayable(
            "The price of this offer has changed since you started. Please start again."
        )
    try:
        amount_validate(order.amount_due_now, currency=order.currency)
    except PricingError as exc:
        raise OrderNotPayable(str(exc)) from exc


def checkout_customer(*, order: Order, proven_email: str = "") -> Customer:
    """Whose cards pay this order, decided once and kept on the order.

    A buyer who proved this email in this browser (`proven_email`, from the portal's magic
    link) pays as their verified Customer, so the card becomes their card on file. Anyone else
    gets a guest Customer of this order's own: typing an email proves nothing, and a stranger's
    card must never land on that person's account (D1).
    """
    if not order.customer_id:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if not locked.customer_id:
                proven = bool(proven_email) and proven_email.strip().lower() == locked.email.lower()
                locked.customer = (
                    customer_ensure(email=locked.email, name=locked.name)
                    if proven
                    else customer_guest_create(email=locked.email, name=locked.name)
                )
                locked.save(update_fields=["customer", "updated_at"])
            order.customer = locked.customer
    order.customer = customer_stripe_ensure(order.customer, metadata={"order_id": str(order.pk)})
    return order.customer


def checkout_setup_start(*, order: Order, proven_email: str = "") -> str:
    """The client secret of a SetupIntent (usage off_session) for the Card Element. The card it
    saves is the only one `checkout_pay` accepts for this order."""
    order_payable_check(order=order)
    customer = checkout_customer(order=order, proven_email=proven_email)
    return customer_setup_intent_start(
        customer=customer, metadata={"order_id": str(order.pk)}
    ).client_secret


def checkout_current_payment(*, order: Order) -> Payment | None:
    if not order.checkout_attempt:
        return None
    return Payment.objects.filter(
        idempotency_key=_attempt_key(order, order.checkout_attempt)
    ).first()


def _attempt_key(order: Order, attempt: int) -> str:
    return f"order:{order.pk}:checkout:{attempt}"


def checkout_pay(
    *, order_id: int, payment_method_id: str, setup_intent_id: str, ip: str | None
) -> PayOutcome:
    """Charge (or, for a hold, authorise) what is due now with the card the buyer just saved.

    Only the card this order's own SetupIntent produced is accepted, checked with Stripe before
    anything else: any other `pm_…` (another buyer's card) raises CardNotProven, and nothing is
    attached or charged (D4).
    """
    if not _PM_ID.match(payment_method_id or ""):
        raise OrderNotPayable("We did not receive your card details. Please enter them again.")
    order = Order.objects.select_related("offer").get(pk=order_id)
    order_payable_check(order=order)  # checked again under the order's lock below
    customer = checkout_customer(order=order)
    payment_method_id = customer_card_prove(
        customer=customer, setup_intent_id=setup_intent_id, payment_method_id=payment_method_id
    )

    # Another card for an attempt whose intent was never confirmed (its confirm was lost before
    # Stripe ran it): that intent can only be confirmed with the card it was made with, so it is
    # ended first (Stripe refuses if it ran after all) and a new attempt takes the new card.
    waiting = checkout_current_payment(order=Order.objects.get(pk=order_id))
    if (
        waiting is not None
        and waiting.status == Payment.Status.REQUIRES_PAYMENT_METHOD
        and waiting.stripe_payment_intent_id
        and waiting.payment_method_id != payment_method_id
    ):
        payment_abandon(payment=waiting)

    # Decide the attempt under the order's lock: concurrent clicks agree on one key.
    blocked = ""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("offer").get(pk=order_id)
        order_payable_check(order=order)
        current = checkout_current_payment(order=order)
        retry_with_another_card = (
            current is not None
            and current.status in (Payment.Status.FAILED, Payment.Status.CANCELED)
            and current.payment_method_id != payment_method_id
        )
        # Otherwise the same attempt: the same Payment row, so no second intent. (An attempt
        # whose row is not there yet is one a concurrent click is starting right now.)
        if order.checkout_attempt == 0 or retry_with_another_card:
            velocity = checkout_velocity_check(email=order.email, ip=ip)
            if velocity.blocked:
                blocked = velocity.reason
            else:
                order.checkout_attempt += 1
                order.save(update_fields=["checkout_attempt", "updated_at"])
        attempt = order.checkout_attempt
        if not blocked and order.status in (Order.Status.OPEN, Order.Status.FAILED):
            order_transition(
                order_id=order.pk,
                to_status=Order.Status.AWAITING_PAYMENT,
                cause="checkout_pay",
                detail={"attempt": attempt},
            )
    if blocked:
        _block(order, blocked)

    try:
        customer = customer_card_save(customer=customer, payment_method_id=payment_method_id)
    except gateway.CardDeclined as exc:
        return PayOutcome(status="failed", message=DECLINE_MESSAGES.get(exc.code, GENERIC_DECLINE))
    card = card_key(
        brand=customer.card_brand,
        last4=customer.card_last4,
        exp_month=customer.card_exp_month,
        exp_year=customer.card_exp_year,
    )
    key = _attempt_key(order, attempt)
    if not Payment.objects.filter(idempotency_key=key).exists():
        velocity = checkout_velocity_check(email=order.email, ip=ip, card=card)
        if velocity.blocked:
            _block(order, velocity.reason)

    hold = order.offer.billing_type == Offer.BillingType.HOLD
    return_url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "checkout:return", kwargs={"slug": order.offer.slug, "token": order.checkout_token}
    )
    payment = payment_start(
        idempotency_key=key,
        amount=order.amount_due_now,
        currency=order.currency,
        customer=customer,
        payment_method_id=payment_method_id,
        attempt_kind=Payment.AttemptKind.CHECKOUT,
        capture_method=Payment.CaptureMethod.MANUAL if hold else Payment.CaptureMethod.AUTOMATIC,
        order_id=order.pk,
        metadata={
            "order_reference": order.reference,
            "buyer_email": order.email,
            "buyer_ip": ip or "",
            "card_key": card,
        },
        return_url=return_url,
    )
    return checkout_after_payment(order_id=order.pk, payment=payment)


def checkout_refresh(*, order_id: int) -> PayOutcome:
    """Where the current attempt stands, asking Stripe when it is still open (after 3DS, or a
    timeout). Retrieves only: never creates an intent."""
    order = Order.objects.select_related("offer").get(pk=order_id)
    payment = checkout_current_payment(order=order)
    if payment is None:
        return PayOutcome(status="none")
    if payment.status in OPEN_STATUSES and (
        payment.stripe_payment_intent_id or payment.status == Payment.Status.UNKNOWN
    ):
        try:
            payment = payment_refresh(payment=payment, cause="checkout_refresh")
        except gateway.GatewayError as exc:
            logger.warning("refresh of payment %s failed: %s", payment.pk, exc)
    return checkout_after_payment(order_id=order.pk, payment=payment)


def checkout_after_payment(*, order_id: int, payment: Payment) -> PayOutcome:
    """Bring the order in line with its payment and say what the page should do next.

    On success the order is recorded synchronously, so the result page shows the access at
    once; the webhook path records it too, and recording is idempotent. Radar's verdict is
    decided inside `order_payment_record`, under the order's lock, whichever path comes first.
    """
    status = payment.status
    if status in (Payment.Status.SUCCEEDED, Payment.Status.AUTHORIZED):
        order = order_payment_record(payment_id=payment.pk, cause="checkout_confirm")
        if status == Payment.Status.SUCCEEDED and order.offer.billing_type == "recurring":
            subscription_start(order=order, payment=payment)
        return PayOutcome(status=status, payment=payment)
    if status == Payment.Status.REQUIRES_ACTION:
        secret = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).client_secret
        return PayOutcome(status=status, payment=payment, client_secret=secret)
    if status in (Payment.Status.FAILED, Payment.Status.CANCELED):
        order_payment_record(payment_id=payment.pk, cause="checkout_confirm")
        return PayOutcome(status="failed", payment=payment, message=decline_message(payment))
    if payment_create_unanswered(payment):
        # Stripe never answered the create. An on-session intent is created unconfirmed, so
        # nothing can have been charged; the buyer's next click sends the same create again.
        return PayOutcome(status="unreachable", payment=payment, message=UNREACHABLE_MESSAGE)
    return PayOutcome(status=status, payment=payment)


def _block(order: Order, reason: str) -> None:
    order_flag_for_review(order_id=order.pk, reason=f"Velocity: {reason}")
    raise CheckoutBlocked(BLOCKED_MESSAGE)


def subscription_start(*, order: Order, payment: Payment) -> Subscription:
    """Record what the renewal job needs: the customer (with its saved card), amount, next date."""
    start = payment.succeeded_at or timezone.now()
    subscription, created = Subscription.objects.get_or_create(
        order=order,
        defaults={
            "customer_id": payment.customer_id,
            "payment_method_id": payment.payment_method_id,
            "interval": order.offer.interval or Offer.Interval.MONTH,
            "amount": order.total,
            "currency": order.currency,
            "current_period_start": start,
            "next_charge_at": next_renewal(start=start, interval=order.offer.interval),
        },
    )
    if created:
        status_event_created(
            SUBSCRIPTION_MACHINE,
            instance=subscription,
            cause="subscription_start",
            detail={"payment": payment.pk},
        )
    return subscription


def checkout_begin(
    *,
    offer: Offer,
    checkout_token: str,
    email: str,
    name: str,
    billing_country: str,
    marketing_opt_in: bool,
    context: Any,
    consent_text_ids: dict[str, int] | None = None,
    honeypot: str = "",
    started_at: Any = None,
) -> Order:
    """The buyer's details become a lead (consents in the ledger) and one order per token.

    A lead over the readiness policy's risk threshold, or quarantined as spam, is not turned
    away: the order goes to manual review and the buyer is told what happens next.
    `context` is a leads.services.CaptureContext. Raises leads' LeadInputError on bad input.
    """
    lead = lead_capture(
        email=email,
        name=name,
        country=billing_country,
        consents={"terms": True, "marketing_email": marketing_opt_in},
        consent_text_ids=consent_text_ids,
        context=context,
        started_at=started_at,
        honeypot=honeypot,
    )
    order = order_create(
        offer=offer,
        checkout_token=checkout_token,
        email=lead.email,
        name=name,
        billing_country=billing_country,
        marketing_opt_in=marketing_opt_in,
        ip_address=context.ip,
        lead=lead,
    )
    readiness = lead_readiness(lead=lead)
    limit = readiness_policy_active().max_risk_score
    if lead.status == LeadStatus.SPAM or readiness.risk_score > limit:
        order = order_flag_for_review(
            order_id=order.pk,
            reason=f"Lead risk score {readiness.risk_score} is over {limit}"
            if readiness.risk_score > limit
            else "Lead is quarantined as suspected spam",
        )
    return order
