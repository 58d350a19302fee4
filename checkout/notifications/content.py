"""What the customer's emails say: subjects, plain-language reasons and the template context.

Scheduling and sending live beside it (`schedule`, `delivery`); this module only turns a
`Notification` row into a subject, a text body and an HTML body. Amounts are formatted with
Babel here, at the edge; names are escaped by the HTML templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from checkout.csat.services import csat_url
from checkout.models import Notification
from checkout.portal.links import portal_url
from checkout.selectors import order_entitlement_active
from config.money import money_format

_N = Notification.Kind

SUBJECTS = {
    _N.PAYMENT_CONFIRMED: "Payment received: your access to {offer}",
    _N.PAYMENT_ON_HOLD: "Your card is on hold for {offer}: you have access",
    _N.PAYMENT_UNDER_REVIEW: "We are checking your payment for {offer}",
    _N.PAYMENT_FAILED: "Your payment for {offer} did not go through",
    _N.BALANCE_DUE: "We received part of your payment for {offer}",
    _N.OVERPAYMENT: "You paid more than needed for {offer}: we will refund the difference",
    _N.DUPLICATE_PAYMENT: "You paid twice for {offer}: we will refund one payment",
    _N.PAYMENT_ON_CANCELED_ORDER: "Payment received for a canceled order: we will refund it",
    _N.REFUND_ISSUED: "Your refund for {offer} is on its way",
    _N.HOLD_LAPSED: "The reservation on your card for {offer} ended: pay to keep your access",
    _N.RECEIPT: "Your receipt for {offer}",
    _N.CREDIT_NOTE: "Your credit note for {offer}",
    # Normally rendered by dunning from its editable templates (body stored on the row); these
    # are checkout's own plain versions for a row without a stored body.
    _N.PAYMENT_REMINDER: "A reminder about your payment for {offer}",
    _N.CARD_EXPIRING: "Your card for {offer} expires soon",
}


@dataclass(frozen=True)
class FailureAdvice:
    what_happened: str
    what_to_do: str


_GENERIC_DECLINE = FailureAdvice(
    "Your bank declined the payment. They did not tell us why.",
    "Try again with another card, or call your bank and ask them to allow the payment.",
)

# Stripe's decline and failure codes, in plain words (decline code first, then failure code).
FAILURE_ADVICE: dict[str, FailureAdvice] = {
    "insufficient_funds": FailureAdvice(
        "Your bank declined the payment because there was not enough money in the account.",
        "Add money to the account or use another card, then pay again.",
    ),
    "expired_card": FailureAdvice(
        "The card has expired.", "Pay again with a card that is still valid."
    ),
    "incorrect_cvc": FailureAdvice(
        "The security code (the 3 digits on the back of the card) was not right.",
        "Pay again and check the security code.",
    ),
    "invalid_cvc": FailureAdvice(
        "The security code (the 3 digits on the back of the card) was not right.",
        "Pay again and check the security code.",
    ),
    "incorrect_number": FailureAdvice(
        "The card number was not right.", "Pay again and check the card number."
    ),
    "lost_card": FailureAdvice(
        "Your bank declined the card because it was reported lost.",
        "Please pay with another card.",
    ),
    "stolen_card": FailureAdvice(
        "Your bank declined the card because it was reported stolen.",
        "Please pay with another card.",
    ),
    "fraudulent": FailureAdvice(
        "The payment was declined to protect you.",
        "Please pay with another card, or contact your bank.",
    ),
    "card_velocity_exceeded": FailureAdvice(
        "Your bank declined the payment because the card reached its spending limit.",
        "Ask your bank to raise the limit or use another card.",
    ),
    "authentication_required": FailureAdvice(
        "Your bank asked to confirm the payment and it was not confirmed.",
        "Pay again and approve the payment in your banking app or the window that opens.",
    ),
    "payment_intent_authentication_failure": FailureAdvice(
        "The bank's security check was not completed.",
        "Pay again and approve the payment in your banking app or the window that opens.",
    ),
    "processing_error": FailureAdvice(
        "Something went wrong while the payment was being processed. You were not charged.",
        "Please try again in a few minutes.",
    ),
    "do_not_honor": _GENERIC_DECLINE,
    "generic_decline": _GENERIC_DECLINE,
    "card_declined": _GENERIC_DECLINE,
}


def failure_advice(*, decline_code: str, failure_code: str) -> FailureAdvice:
    return (
        FAILURE_ADVICE.get(decline_code)
        or FAILURE_ADVICE.get(failure_code)
        or FailureAdvice(
            "The payment did not go through. You were not charged.",
            "Please try again, or use another card.",
        )
    )


def notification_context(
    notification: Notification, *, attached: list[str] | None = None, to_follow: bool = False
) -> dict:
    """The template context. `attached` names the files going with the email ("Receipt
    R-2026-000001"); `to_follow` says a document for it is still being made."""
    order = notification.order
    facts = notification.context or {}
    currency = facts.get("currency") or order.currency

    def money(key: str) -> str:
        return money_format(facts.get(key, 0), currency)

    entitlement = order_entitlement_active(order=order)
    return {
        "kind": notification.kind,
        "order": order,
        "offer": order.offer,
        "name": order.name,
        "reference": order.reference,
        "total": money_format(order.total, currency),
        "payment_amount": money("payment_amount"),
        "amount_paid": money("amount_paid"),
        "balance": money("balance"),
        "has_balance": facts.get("balance", 0) > 0,
        "refund_amount": money("refund_amount"),
        "full_refund": bool(facts.get("full")),
        "discrepancy_amount": money("discrepancy_amount"),
        "failure": failure_advice(
            decline_code=facts.get("decline_code", ""), failure_code=facts.get("failure_code", "")
        ),
        "entitlement": entitlement,
        "portal_url": portal_url(email=order.email),
        "csat_url": csat_url(order=order) if notification.kind == _N.PAYMENT_CONFIRMED else "",
        "support_email": settings.SELLER_SUPPORT_EMAIL,
        "portal_name": settings.PORTAL_NAME,
        "seller_name": settings.SELLER_LEGAL_NAME,
        "attached": list(attached or []),
        "to_follow": to_follow,
        "document_number": facts.get("document_number", ""),
    }


def notification_message(
    notification: Notification, *, attached: list[str] | None = None, to_follow: bool = False
) -> tuple[str, str, str]:
    """(subject, text body, HTML body) for a notification."""
    if notification.body_text:
        # Rendered when it was decided (dunning's editable templates): sent as stored.
        return (
            " ".join(notification.subject.split()),
            notification.body_text,
            notification.body_html,
        )
    context = notification_context(notification, attached=attached, to_follow=to_follow)
    subject = SUBJECTS[notification.kind].format(offer=notification.order.offer.name)
    subject = " ".join(subject.split())  # never a newline in a header
    base = f"checkout/email/{notification.kind}"
    text = render_to_string(f"{base}.txt", context)
    html = render_to_string(f"{base}.html", context)
    return subject, text, html
