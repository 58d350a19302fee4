"""Customers, saved cards and charges.

A charge is one Payment row per attempt, keyed by a deterministic idempotency key that the
caller builds from its own rows (e.g. f"order:{order.pk}:checkout"). The row is created first
and locked while Stripe is called, so concurrent "Pay" clicks make exactly one PaymentIntent
without leaning on Stripe's idempotency layer (which answers a concurrent duplicate with 409).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from payments import gateway
from payments.models import Customer, Payment
from payments.services.transitions import (
    payment_apply_intent,
    payment_mark_unknown,
    payment_transition,
)

logger = logging.getLogger(__name__)


_CREATE_RESENT = "create_resent"


def payment_create_unanswered(payment: Payment) -> bool:
    """True when the payment's PaymentIntent create was sent and no answer came back: nothing
    was confirmed by us, and the same create may be sent again under the same key."""
    if payment.status != Payment.Status.UNKNOWN or payment.stripe_payment_intent_id:
        return False
    last = payment.events.order_by("created_at", "pk").last()
    return last is not None and last.cause == "timeout_on_create"


class PaymentMismatch(Exception):
    """An idempotency key was reused with a different amount, currency or order."""


class CardNotProven(Exception):
    """The card did not come from this customer's own SetupIntent: it is never attached or
    charged. The message is safe to show."""


def customer_ensure(*, email: str, name: str) -> Customer:
    """The Customer of a buyer who proved this email (the portal's magic link), created at
    Stripe once (row-locked, idempotent). Never call it for an email nobody proved: a checkout
    by email alone gets its own guest (`customer_guest_create`)."""
    email = email.strip().lower()
    try:
        with transaction.atomic():
            customer, _ = Customer.objects.get_or_create(
                email=email, email_verified=True, defaults={"name": name}
            )
    except IntegrityError:
        customer = Customer.objects.get(email=email, email_verified=True)
    return _stripe_customer_ensure(customer)


def customer_guest_create(*, email: str, name: str) -> Customer:
    """A Customer of its own for a checkout by email alone. Only our row: the caller keeps it
    with the order under the order's lock (one per checkout), then `customer_stripe_ensure`
    creates it at Stripe outside the lock."""
    return Customer.objects.create(email=email.strip().lower(), name=name)


def customer_stripe_ensure(
    customer: Customer, *, metadata: dict[str, str] | None = None
) -> Customer:
    """The customer, created at Stripe once (row-locked; the idempotency key is its pk)."""
    return _stripe_customer_ensure(customer, metadata=metadata)


def _stripe_customer_ensure(customer: Customer, *, metadata: dict[str, str] | None = None):
    if customer.stripe_customer_id:
        return customer
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if not customer.stripe_customer_id:
            customer.stripe_customer_id = gateway.customer_create(
                email=customer.email,
                name=customer.name,
                metadata={"customer_id": str(customer.pk), **(metadata or {})},
                idempotency_key=f"customer:{customer.pk}:create",
            )
            customer.save(update_fields=["stripe_customer_id", "updated_at"])
    return customer


def customer_setup_intent_start(
    *, customer: Customer, metadata: dict[str, str] | None = None
) -> gateway.SetupIntentResult:
    """A SetupIntent the browser confirms with the Card Element (`confirmCardSetup`). The card
    it produces is the only one `customer_card_prove` accepts for this customer.

    No money moves, so each call may make a new one.
    """
    return gateway.setup_intent_create(
        customer=customer.stripe_customer_id,
        idempotency_key=f"customer:{customer.pk}:seti:{uuid.uuid4().hex}",
        metadata={"customer_id": str(customer.pk), **(metadata or {})},
    )


def customer_card_prove(*, customer: Customer, setup_intent_id: str, payment_method_id: str) -> str:
    """Check with Stripe that `payment_method_id` is the card this customer's own SetupIntent
    saved, and return it. Any other card (another buyer's, one made elsewhere) raises
    CardNotProven, before anything is attached or charged."""
    refused = CardNotProven(
        "We could not confirm this card for your order. Nothing was charged. "
        "Please enter your card details again."
    )
    if not (setup_intent_id or "").startswith("seti_") or not customer.stripe_customer_id:
        raise refused
    try:
        setup = gateway.setup_intent_retrieve(setup_intent_id[:255])
    except gateway.GatewayUnavailable:
        raise
    except gateway.GatewayError as exc:  # no such SetupIntent (or not ours to read)
        raise refused from exc
    if (
        setup.status != "succeeded"
        or setup.customer != customer.stripe_customer_id
        or not setup.payment_method
        or setup.payment_method != payment_method_id
    ):
        logger.warning(
            "card refused for customer %s: SetupIntent %s (%s, customer %s) gave %s, not %s",
            customer.pk, setup.id, setup.status, setup.customer or "-",
            setup.payment_method or "-", payment_method_id,
        )  # fmt: skip
        raise refused
    return setup.payment_method


def customer_card_save(*, customer: Customer, payment_method_id: str) -> Customer:
    """Keep the card as this customer's card on file. Only for a card `customer_card_prove`
    accepted: Stripe attaches a SetupIntent's card to its customer, and the attach here (to that
    same customer) makes sure of it."""
    gateway.payment_method_attach(
        payment_method_id,
        customer=customer.stripe_customer_id,
        idempotency_key=f"customer:{customer.pk}:attach:{payment_method_id}",
    )
    card = gateway.payment_method_card(payment_method_id)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        customer.payment_method_id = card.payment_method
        customer.card_brand = card.brand[:20]
        customer.card_last4 = card.last4[:4]
        customer.card_exp_month = card.exp_month
        customer.card_exp_year = card.exp_year
        customer.save()
    return customer


def payment_prepare(
    *,
    idempotency_key: str,
    amount: int,
    currency: str,
    customer: Customer,
    payment_method_id: str,
    attempt_kind: str = Payment.AttemptKind.CHECKOUT,
    capture_method: str = Payment.CaptureMethod.AUTOMATIC,
    order_id: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Payment:
    """The Payment row for this attempt, created once and never touching Stripe.

    Committed on its own when called outside a transaction, so its pk (and with it the
    idempotency key sent to Stripe) is stable before any lock a caller takes around
    `payment_start`. Raises PaymentMismatch if the key was used for another amount or order.
    """
    if amount <= 0:
        raise ValueError("amount must be positive")
    return _payment_row(
        idempotency_key=idempotency_key,
        amount=amount,
        currency=currency.lower(),
        customer=customer,
        payment_method_id=payment_method_id,
        attempt_kind=attempt_kind,
        capture_method=capture_method,
        order_id=order_id,
        metadata=metadata or {},
    )


def payment_start(
    *,
    idempotency_key: str,
    amount: int,
    currency: str,
    customer: Customer,
    payment_method_id: str,
    attempt_kind: str = Payment.AttemptKind.CHECKOUT,
    capture_method: str = Payment.CaptureMethod.AUTOMATIC,
    off_session: bool = False,
    order_id: int | None = None,
    metadata: dict[str, str] | None = None,
    return_url: str = "",
) -> Payment:
    """Create and confirm one PaymentIntent for this attempt, exactly once.

    An on-session charge passes `return_url`: the page where the buyer lands after an
    authentication that redirects to the bank, which then shows the order.

    Calling it again with the same key returns the same Payment without touching Stripe, with
    one exception: an intent that is still waiting to be confirmed (the confirm's answer was
    lost and `payment_refresh` found that Stripe never acted on it, or a crash came between
    create and confirm) is confirmed again, or the buyer could never finish this attempt. An
    intent takes money at most once, so a second confirm cannot charge twice; it goes under a
    new idempotency key, since Stripe replays a saved error for the old one.
    A timeout leaves the payment `unknown`; `payment_refresh` finds out what happened.
    """
    currency = currency.lower()
    payment = payment_prepare(
        idempotency_key=idempotency_key,
        amount=amount,
        currency=currency,
        customer=customer,
        payment_method_id=payment_method_id,
        attempt_kind=attempt_kind,
        capture_method=capture_method,
        order_id=order_id,
        metadata=metadata,
    )

    # Phase 1: create the intent while holding the row lock. Concurrent callers wait here and
    # then see the intent id, so only one intent is ever created for the row.
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment_create_unanswered(payment):
            # The create's answer never came (Stripe was unreachable or hung). Sending it again
            # under the same idempotency key is safe: Stripe replays its first answer if it
            # acted, or acts now, once. The buyer's next click is that retry.
            payment, _ = payment_transition(
                payment_id=payment.pk,
                to_status=Payment.Status.REQUIRES_PAYMENT_METHOD,
                cause=_CREATE_RESENT,
            )
        if payment.status != Payment.Status.REQUIRES_PAYMENT_METHOD:
            return payment
        if not payment.stripe_payment_intent_id:
            last = payment.events.order_by("created_at", "pk").last()
            if last is not None and last.cause != _CREATE_RESENT:
                return payment  # an earlier attempt already ran; never create a second intent
            payment, finished = _intent_create(
                payment,
                customer=customer,
                payment_method_id=payment_method_id,
                capture_method=capture_method,
                off_session=off_session,
                order_id=order_id,
            )
            if finished:
                return payment
        elif off_session:
            return payment  # created and confirmed in one call: nothing to resume

    # Phase 2: confirm. The intent id is committed, so a crash here leaves a findable intent.
    return _payment_confirm(payment, return_url=return_url)


def _intent_create(
    payment: Payment,
    *,
    customer: Customer,
    payment_method_id: str,
    capture_method: str,
    off_session: bool,
    order_id: int | None,
) -> tuple[Payment, bool]:
    """Create the locked payment's intent; True when nothing is left to do (an off-session
    charge, created and confirmed at once, or a refusal or timeout), False when the intent
    waits for its confirm."""
    stripe_metadata = {"payment_id": str(payment.pk), **payment.metadata}
    if order_id:
        stripe_metadata["order_id"] = str(order_id)
    try:
        result = gateway.payment_intent_create(
            amount=payment.amount,
            currency=payment.currency,
            customer=customer.stripe_customer_id or "",
            payment_method=payment_method_id,
            capture_method=capture_method,
            off_session=off_session,
            # Stripe accepts off_session only together with confirm: an off-session charge (a
            # renewal, a retry) is created and confirmed in one call.
            confirm=off_session,
            metadata=stripe_metadata,
            idempotency_key=f"payment:{payment.pk}:create",
        )
    except gateway.GatewayUnavailable as exc:
        payment = payment_mark_unknown(payment_id=payment.pk, cause="timeout_on_create", error=exc)
        return payment, True
    except gateway.CardDeclined as exc:  # an off-session create confirms at once
        payment, _ = _record_failure(payment, exc, cause="card_declined")
        return payment, True
    except gateway.GatewayError as exc:
        payment, _ = _record_failure(payment, exc, cause="create_refused")
        return payment, True
    payment.stripe_payment_intent_id = result.id
    payment.save(update_fields=["stripe_payment_intent_id", "updated_at"])
    if off_session:
        payment, _ = payment_apply_intent(
            payment_id=payment.pk, result=result, cause="api_response"
        )
        return payment, True
    payment, _ = payment_transition(
        payment_id=payment.pk,
        to_status=Payment.Status.REQUIRES_PAYMENT_METHOD,
        cause="intent_created",
        detail={"payment_intent": result.id},
    )
    return payment, False


def payment_abandon(*, payment: Payment) -> Payment:
    """Cancel an attempt whose intent was created but never confirmed, so that a new attempt
    (the buyer brought another card) can start without this one ever charging. The intent is
    confirmed with the card it was created with, so it cannot take the new one.

    Stripe decides: if the intent moved on meanwhile (a lost confirm ran after all), the cancel
    is refused and what Stripe says is recorded instead, so a payment that succeeded is never
    abandoned. An unanswered cancel leaves it `unknown`.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.REQUIRES_PAYMENT_METHOD:
            return payment
        if not payment.stripe_payment_intent_id:
            return payment
        try:
            result = gateway.payment_intent_cancel(
                payment.stripe_payment_intent_id, idempotency_key=f"payment:{payment.pk}:abandon"
            )
        except gateway.GatewayUnavailable as exc:
            return payment_mark_unknown(
                payment_id=payment.pk, cause="timeout_on_abandon", error=exc
            )
        except gateway.GatewayError as exc:
            try:
                result = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
            except gateway.GatewayError:
                return payment_mark_unknown(
                    payment_id=payment.pk, cause="abandon_refused", error=exc
                )
        payment, _ = payment_apply_intent(
            payment_id=payment.pk, result=result, cause="abandoned_for_another_card"
        )
    return payment


def _payment_confirm(payment: Payment, *, return_url: str = "") -> Payment:
    """Confirm the payment's intent under its row lock, if it still waits for that."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.REQUIRES_PAYMENT_METHOD:
            return payment
        # One key per try: a try whose answer was lost may have a saved error under its key.
        tries = payment.events.filter(cause="timeout_on_confirm").count()
        try:
            result = gateway.payment_intent_confirm(
                payment.stripe_payment_intent_id,
                idempotency_key=f"payment:{payment.pk}:confirm" + (f":{tries}" if tries else ""),
                return_url=return_url,
            )
        except gateway.GatewayUnavailable as exc:
            return payment_mark_unknown(
                payment_id=payment.pk, cause="timeout_on_confirm", error=exc
            )
        except gateway.CardDeclined as exc:
            payment, _ = _record_failure(payment, exc, cause="card_declined")
            return payment
        except gateway.GatewayError as exc:
            if not tries:
                payment, _ = _record_failure(payment, exc, cause="confirm_refused")
                return payment
            # A confirm after a lost one: the lost one may have run at Stripe after all, and
            # this one is refused for the intent's new state. Stripe's record decides; it is a
            # failure only if the intent still waits for a confirm.
            try:
                result = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
            except gateway.GatewayError:
                return payment_mark_unknown(
                    payment_id=payment.pk, cause="timeout_on_confirm", error=exc
                )
            if result.status in ("requires_payment_method", "requires_confirmation"):
                payment, _ = _record_failure(payment, exc, cause="confirm_refused")
                return payment
        payment, _ = payment_apply_intent(
            payment_id=payment.pk, result=result, cause="api_response"
        )
    return payment


def _payment_row(
    *, idempotency_key: str, amount: int, currency: str, order_id, **defaults: Any
) -> Payment:
    try:
        with transaction.atomic():
            payment, created = Payment.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={"amount": amount, "currency": currency, "order_id": order_id, **defaults},
            )
    except IntegrityError:
        payment, created = Payment.objects.get(idempotency_key=idempotency_key), False
    if not created and (
        payment.amount != amount or payment.currency != currency or payment.order_id != order_id
    ):
        raise PaymentMismatch(
            f"{idempotency_key} was used for {payment.amount} {payment.currency} "
            f"(order {payment.order_id}), not {amount} {currency} (order {order_id})"
        )
    return payment


def _record_failure(payment: Payment, exc: gateway.GatewayError, *, cause: str):
    return payment_transition(
        payment_id=payment.pk,
        to_status=Payment.Status.FAILED,
        cause=cause,
        detail={"error": str(exc)[:300], "http_status": exc.http_status},
        fields={
            "failure_code": (exc.code or "")[:100],
            "decline_code": (exc.decline_code or "")[:100],
            "failure_message": str(exc)[:500],
        },
    )


def payment_refresh(*, payment: Payment, cause: str = "reconcile") -> Payment:
    """Ask Stripe what happened to this payment and record it. Never creates an intent.

    An `unknown` payment whose creation timed out has no intent id yet: it is found among
    recent intents by the `payment_id` we put in its metadata.
    """
    intent_id = payment.stripe_payment_intent_id
    if not intent_id:
        since = int(payment.created_at.timestamp()) - 300
        matches = [
            r
            for r in gateway.payment_intents_recent(created_gte=since)
            if r.metadata.get("payment_id") == str(payment.pk)
        ]
        if not matches:
            if time.time() - payment.created_at.timestamp() > 900:
                # Stripe never created it: safe to say the attempt failed.
                payment, _ = payment_transition(
                    payment_id=payment.pk,
                    to_status=Payment.Status.FAILED,
                    cause=cause,
                    detail={"reason": "no intent was created at Stripe"},
                    fields={"failure_code": "not_created"},
                )
            return payment
        result = matches[0]
    else:
        result = gateway.payment_intent_retrieve(intent_id)
    payment, _ = payment_apply_intent(payment_id=payment.pk, result=result, cause=cause)
    return payment


def payment_risk_unknown(payment: Payment) -> bool:
    """True for a paid or authorised card payment whose Radar verdict we have not seen yet (its
    news came in an event, whose charge is never expanded). Money without a PaymentIntent (a
    transfer staff recorded) has no verdict to wait for."""
    return (
        bool(payment.stripe_payment_intent_id)
        and payment.status in (Payment.Status.SUCCEEDED, Payment.Status.AUTHORIZED)
        and not payment.risk_level
        and payment.risk_score is None
    )


def payment_risk_assess(*, payment_id: int) -> Payment:
    """Retrieve the intent with its charge expanded when Radar's verdict is unknown, and record
    it. Idempotent: a payment whose verdict is known is returned unchanged, without a call.

    Raises gateway.GatewayError when Stripe cannot be asked; the verdict then stays unknown.
    """
    payment = Payment.objects.get(pk=payment_id)
    if not payment_risk_unknown(payment):
        return payment
    return payment_refresh(payment=payment, cause="risk_assess")
