"""Checkout tokens and orders.

A checkout token is issued per checkout page view and kept in the buyer's session, so a token
copied into another browser is refused (foreign), and one older than CHECKOUT_TOKEN_TTL_SECONDS
is refused (stale). The order is keyed by its token: a double click or a reload of the form
returns the same order instead of making a second one.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import ORDER_MACHINE, Offer, Order, OrderEvent
from checkout.services.pricing import price_quote
from config.audit import audit_log_record
from config.transitions import status_event_created, status_event_record, transition

logger = logging.getLogger(__name__)

_SESSION_KEY = "checkout_tokens"
_MAX_TOKENS_PER_SESSION = 20


class CheckoutTokenError(Exception):
    """A checkout token we refuse. `reason` is `malformed`, `foreign` or `stale`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OfferUnavailable(Exception):
    """The offer does not exist or is not on sale."""


class OrderNotPayable(Exception):
    """The order is in a state where no card payment may start; the message is safe to show."""


def checkout_token_issue(*, session: MutableMapping[str, Any], offer: Offer) -> str:
    """A new checkout token for this offer, remembered in the buyer's session."""
    token = str(uuid.uuid4())
    tokens = dict(session.get(_SESSION_KEY) or {})
    tokens[token] = {"offer": offer.pk, "issued_at": int(time.time())}
    if len(tokens) > _MAX_TOKENS_PER_SESSION:
        newest = sorted(tokens.items(), key=lambda item: item[1]["issued_at"])
        tokens = dict(newest[-_MAX_TOKENS_PER_SESSION:])
    session[_SESSION_KEY] = tokens
    return token


def checkout_token_verify(
    *, session: MutableMapping[str, Any], token: str, offer: Offer
) -> uuid.UUID:
    """The token as a UUID if this session was issued it for this offer and it is still fresh."""
    try:
        value = uuid.UUID(str(token))
    except (ValueError, TypeError):
        raise CheckoutTokenError("malformed") from None
    issued = (session.get(_SESSION_KEY) or {}).get(str(value))
    if not issued or issued.get("offer") != offer.pk:
        raise CheckoutTokenError("foreign")
    if time.time() - issued["issued_at"] > settings.CHECKOUT_TOKEN_TTL_SECONDS:
        raise CheckoutTokenError("stale")
    return value


def offer_for_checkout(*, slug: str) -> Offer:
    offer = Offer.objects.filter(slug=slug, is_active=True).first()
    if offer is None:
        raise OfferUnavailable(slug)
    return offer


def order_create(
    *,
    offer: Offer,
    checkout_token: uuid.UUID | str,
    email: str,
    name: str,
    billing_country: str,
    marketing_opt_in: bool = False,
    ip_address: str | None = None,
    lead: Any = None,
) -> Order:
    """The order for this checkout token, created once.

    Called again with the same token (a reload, a double click, the buyer going back to fix a
    typo), it returns the same order, with the buyer's details and prices updated as long as no
    payment has started. A token already used for another offer is refused as foreign.
    """
    if not offer.is_active:
        raise OfferUnavailable(offer.slug)
    token = uuid.UUID(str(checkout_token))
    country = billing_country.strip().upper()
    quote = price_quote(offer=offer, billing_country=country)
    now = timezone.now()
    fields = {
        "email": email.strip().lower(),
        "name": name.strip(),
        "billing_country": country,
        "currency": quote.currency,
        "lines": quote.lines(offer=offer),
        "subtotal": quote.subtotal,
        "tax": quote.tax,
        "total": quote.total,
        "amount_due_now": quote.due_now,
        "balance": quote.balance,
        "balance_due_at": quote.balance_due_at,
        "marketing_opt_in": marketing_opt_in,
        "terms_accepted_at": now,
        "ip_address": ip_address or None,
    }
    if lead is not None:
        fields["lead"] = lead
    try:
        with transaction.atomic():
            order, created = Order.objects.get_or_create(
                checkout_token=token,
                defaults={"offer": offer, "reference": order_reference_new(), **fields},
            )
            if created:
                status_event_created(ORDER_MACHINE, instance=order, cause="checkout_created")
    except IntegrityError:
        order, created = Order.objects.get(checkout_token=token), False
    if order.offer_id != offer.pk:
        raise CheckoutTokenError("foreign")
    if created:
        return order
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == Order.Status.OPEN and order.checkout_attempt == 0:
            fields.pop("terms_accepted_at")
            for key, value in fields.items():
                setattr(order, key, value)
            order.save()
    return order


def order_reference_new() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "CO-" + "".join(secrets.choice(alphabet) for _ in range(8))


def order_event_record(
    *, order: Order, cause: str, actor: Any = None, detail: dict | None = None
) -> OrderEvent:
    """Note something that happened to the order without moving its status (a review flag or
    release, access paused). `order` is locked by the caller."""
    return status_event_record(
        ORDER_MACHINE, instance=order, cause=cause, actor=actor, detail=detail
    )


def order_transition(
    *,
    to_status: str,
    cause: str,
    order_id: int | None = None,
    order: Order | None = None,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
    save: bool = True,
) -> tuple[Order, str]:
    """Move an order to `to_status` if ORDER_TRANSITIONS allows it; returns (order, outcome).

    Locks the row by `order_id`, or takes an `order` the caller has locked (with `save=False`
    the caller saves it, as accounting does with the amounts it recomputed). `fields` are set
    with an applied or unchanged move. A refused move changes nothing and is recorded.
    Money-driven moves come from `checkout.services.accounting.order_payment_record`.
    """
    return transition(
        ORDER_MACHINE,
        pk=order_id,
        instance=order,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        fields=fields,
        save=save,
    )


def order_flag_for_review(*, order_id: int, reason: str, actor: Any = None) -> Order:
    """Put the order in front of staff. While flagged, no card payment can start."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.needs_review:
            order.needs_review = True
            order.review_reason = reason[:200]
            order.save(update_fields=["needs_review", "review_reason", "updated_at"])
            audit_log_record(
                actor=actor,
                action="checkout.order_flagged",
                target=order,
                detail={"reason": reason},
            )
    return order
