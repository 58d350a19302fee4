"""Paying through a payment link: the same card flow as checkout (DESIGN.md §2).

1. `payment_link_setup_start`: a SetupIntent for the case's own Customer; the browser confirms
   it with the Card Element (`confirmCardSetup`);
2. `payment_link_pay`: only the card that SetupIntent saved is accepted (`customer_card_prove`,
   exactly as checkout), then a PaymentIntent is created and confirmed on the server, one per
   attempt (`dunning:case:<id>:link:<link>:<n>`), under the case's row lock so that an
   automatic retry and this payment never both charge;
3. on `requires_action` the browser runs `confirmCardPayment` (3DS) and asks
   `payment_link_refresh`, which retrieves the intent from Stripe.

A success closes the case as recovered (channel `link`) and uses the link up; a failure, a
failed 3DS check included, is recorded on the same case and the buyer may try another card.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from checkout.models import Notification, Order, Subscription
from checkout.services.accounting import order_payment_record
from checkout.services.checkout import checkout_customer
from checkout.services.subscriptions import subscription_card_replace
from dunning.declines import decline_classify
from dunning.models import ACTIVE_STATUSES, DunningCase, DunningCaseNote, PaymentLink
from dunning.selectors import case_amount_owed
from dunning.services.cases import dunning_case_settle_from_order
from dunning.services.links import LinkState, payment_link_state
from dunning.services.messages import dunning_message_send
from dunning.services.transitions import dunning_case_note_event
from payments import gateway
from payments.models import OPEN_STATUSES, Customer, Payment
from payments.services import (
    customer_card_prove,
    customer_card_save,
    customer_setup_intent_start,
    customer_stripe_ensure,
    payment_abandon,
    payment_refresh,
    payment_start,
)

logger = logging.getLogger(__name__)

_PM_ID = re.compile(r"^pm_[A-Za-z0-9_]{1,200}$")
_P = Payment.Status

NOT_USABLE = {
    "en": {
        LinkState.EXPIRED: "This payment link has expired. Nothing was charged.",
        LinkState.USED: "This payment link has already been used to pay. Thank you.",
        LinkState.CLOSED: "There is nothing more to pay through this link.",
    },
    "de": {
        LinkState.EXPIRED: "Dieser Zahlungslink ist abgelaufen. Es wurde nichts abgebucht.",
        LinkState.USED: "Mit diesem Zahlungslink wurde bereits bezahlt. Vielen Dank.",
        LinkState.CLOSED: "Über diesen Link ist nichts mehr zu bezahlen.",
    },
}
NO_CARD = {
    "en": "We did not receive your card details. Please enter them again.",
    "de": "Ihre Kartendaten sind nicht angekommen. Bitte geben Sie sie erneut ein.",
}
PROCESSING = {
    "en": "Your bank is still confirming the payment. Please don't pay again; we email you.",
    "de": "Ihre Bank bestätigt die Zahlung noch. Bitte nicht erneut zahlen; wir schreiben Ihnen.",
}


class LinkNotUsable(Exception):
    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class LinkOutcome:
    status: str
    message: str = ""
    client_secret: str = ""
    payment: Payment | None = None


def _usable(link: PaymentLink, now: datetime) -> PaymentLink:
    state = payment_link_state(link=link, now=now)
    if state != LinkState.USABLE:
        raise LinkNotUsable(state, NOT_USABLE[link.case.language][state])
    return link


def _case_customer(case: DunningCase) -> Customer:
    """Whose card pays: the subscription's Customer for a renewal, else the order's (created
    as a guest of the order if it never had one), created at Stripe once."""
    if case.subscription_id:
        customer = Subscription.objects.get(pk=case.subscription_id).customer
    elif case.customer_id:
        customer = Customer.objects.get(pk=case.customer_id)
    else:
        return checkout_customer(order=Order.objects.get(pk=case.order_id))
    return customer_stripe_ensure(customer, metadata={"order_id": str(case.order_id)})


def payment_link_setup_start(*, link: PaymentLink, now: datetime) -> str:
    """The client secret of a SetupIntent for the Card Element on the payment page."""
    _usable(link, now)
    customer = _case_customer(link.case)
    return customer_setup_intent_start(
        customer=customer,
        metadata={"dunning_case": str(link.case_id), "payment_link": str(link.pk)},
    ).client_secret


def _key(link: PaymentLink, attempt: int) -> str:
    return f"dunning:case:{link.case_id}:link:{link.pk}:{attempt}"


def _current(link: PaymentLink) -> Payment | None:
    if not link.attempts:
        return None
    return Payment.objects.filter(idempotency_key=_key(link, link.attempts)).first()


def payment_link_pay(
    *, link: PaymentLink, payment_method_id: str, setup_intent_id: str, now: datetime
) -> LinkOutcome:
    """Pay what the case owes with the card the buyer just saved on the payment page.

    Raises LinkNotUsable, payments' CardNotProven (another card than this page's SetupIntent
    saved: nothing is attached or charged) and gateway errors (Stripe unreachable).
    """
    language = link.case.language
    if not _PM_ID.match(payment_method_id or ""):
        return LinkOutcome(status="error", message=NO_CARD[language])
    _usable(link, now)
    case = link.case
    customer = _case_customer(case)
    card = customer_card_prove(
        customer=customer, setup_intent_id=setup_intent_id, payment_method_id=payment_method_id
    )
    try:
        customer = customer_card_save(customer=customer, payment_method_id=card)
    except gateway.CardDeclined as exc:
        _failure_record(case, code=exc.decline_code or exc.code or "", failure=exc.code or "")
        return LinkOutcome(
            status="failed", message=_decline_words(case, exc.decline_code, exc.code)
        )
    if case.subscription_id:
        # The card the buyer gave for this renewal pays the next ones too (they proved the email
        # the link was sent to, as with the portal's card update).
        subscription_card_replace(
            subscription_id=case.subscription_id, customer=customer, payment_method_id=card
        )

    with transaction.atomic():
        DunningCase.objects.select_for_update().get(pk=case.pk)
        link = (
            PaymentLink.objects.select_for_update(of=("self",))
            .select_related("case__order")
            .get(pk=link.pk)
        )
        _usable(link, now)
        order = link.case.order
        owed = case_amount_owed(order=order, cause=case.cause)
        if owed <= 0:
            dunning_case_settle_from_order(case=link.case, cause="already_paid", now=now)
            return LinkOutcome(status="succeeded")
        current = _current(link)
        if (
            current is not None
            and current.status == _P.REQUIRES_PAYMENT_METHOD
            and current.stripe_payment_intent_id
            and current.payment_method_id != card
        ):
            # That intent can only be confirmed with the card it was made with (as checkout).
            current = payment_abandon(payment=current)
        if current is None or current.status in (_P.FAILED, _P.CANCELED):
            link.attempts += 1
            link.save(update_fields=["attempts"])
            amount = owed
        else:
            amount = current.amount
        payment = payment_start(
            idempotency_key=_key(link, link.attempts),
            amount=amount,
            currency=case.currency,
            customer=customer,
            payment_method_id=card
            if current is None or current.status in (_P.FAILED, _P.CANCELED)
            else current.payment_method_id,
            attempt_kind=Payment.AttemptKind.RETRY,
            order_id=order.pk,
            metadata={
                "dunning_case": str(case.pk),
                "dunning_channel": DunningCase.Channel.LINK,
                "payment_link": str(link.pk),
            },
        )
    return _after_payment(link=link, payment=payment, now=now)


def payment_link_refresh(*, link: PaymentLink, now: datetime) -> LinkOutcome:
    """Where the link's current payment stands, asking Stripe if it is still open (after 3DS).
    Retrieves only: never creates an intent."""
    payment = _current(link)
    if payment is None:
        return LinkOutcome(status="none")
    if payment.status in OPEN_STATUSES and payment.stripe_payment_intent_id:
        try:
            payment = payment_refresh(payment=payment, cause="link_refresh")
        except gateway.GatewayError as exc:
            logger.warning("refresh of link payment %s failed: %s", payment.pk, exc)
    return _after_payment(link=link, payment=payment, now=now)


def _after_payment(*, link: PaymentLink, payment: Payment, now: datetime) -> LinkOutcome:
    case = DunningCase.objects.select_related("order").get(pk=link.case_id)
    if payment.status in (_P.SUCCEEDED, _P.AUTHORIZED):
        # Recorded now, so the page shows the access at once; the webhook's task finds it done.
        order_payment_record(payment_id=payment.pk, cause="payment_link")
        with transaction.atomic():
            locked = DunningCase.objects.select_for_update().get(pk=case.pk)
            if locked.status in ACTIVE_STATUSES | {DunningCase.Status.EXHAUSTED}:
                dunning_case_settle_from_order(case=locked, cause="link_paid", now=now)
        return LinkOutcome(status="succeeded", payment=payment)
    if payment.status == _P.REQUIRES_ACTION:
        # The browser completes the bank's check with the intent's client secret.
        secret = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).client_secret
        return LinkOutcome(status="requires_action", client_secret=secret, payment=payment)
    if payment.status in (_P.FAILED, _P.CANCELED):
        order_payment_record(payment_id=payment.pk, cause="payment_link")
        _failure_record(
            case, code=payment.decline_code, failure=payment.failure_code, payment=payment
        )
        return LinkOutcome(
            status="failed",
            message=_decline_words(case, payment.decline_code, payment.failure_code),
            payment=payment,
        )
    return LinkOutcome(status="processing", message=PROCESSING[case.language], payment=payment)


def _decline_words(case: DunningCase, decline_code: str | None, failure_code: str | None) -> str:
    words = decline_classify(
        decline_code=decline_code or "", failure_code=failure_code or ""
    ).for_language(case.language)
    return f"{words.what_happened} {words.what_to_do.replace(' below', '').replace(' unten', '')}"


def _failure_record(
    case: DunningCase, *, code: str, failure: str, payment: Payment | None = None
) -> None:
    """A failure on the payment page goes back into the same case, once per payment."""
    with transaction.atomic():
        locked = DunningCase.objects.select_for_update().get(pk=case.pk)
        if (
            payment is not None
            and locked.events.filter(
                cause="link_payment_failed", detail__payment=payment.pk
            ).exists()
        ):
            return
        rule = decline_classify(decline_code=code or "", failure_code=failure or "")
        dunning_case_note_event(
            case=locked,
            cause="link_payment_failed",
            detail={
                "payment": payment.pk if payment else None,
                "code": rule.code,
                "category": rule.category,
            },
        )


def payment_link_fresh_send(*, link: PaymentLink, now: datetime) -> bool:
    """The buyer asked for a fresh link from an expired or used one: email a new one to the
    address on file, if the case is still open. The caller says the same thing either way."""
    with transaction.atomic():
        case = (
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("order__offer", "order__lead", "policy")
            .get(pk=link.case_id)
        )
        if case.status not in ACTIVE_STATUSES:
            return False
        count = case.links.count()
        dunning_message_send(
            case=case,
            template_key="fresh_link",
            channel=Notification.Channel.EMAIL,
            key=f"dunning:case:{case.pk}:fresh:{count}",
            now=now,
        )
        dunning_case_note_event(case=case, cause="fresh_link_requested", detail={"from": link.pk})
    return True


def dunning_case_callback_request(
    *, link: PaymentLink, phone: str, message: str, now: datetime
) -> DunningCaseNote:
    """The buyer asked for a call: a note in the triage queue, flagged on the case."""
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=link.case_id)
        note = DunningCaseNote.objects.create(
            case=case,
            kind=DunningCaseNote.Kind.CALLBACK,
            phone=phone[:32],
            body=message[:2000],
        )
        case.callback_requested_at = now
        case.save(update_fields=["callback_requested_at", "updated_at"])
        dunning_case_note_event(case=case, cause="callback_requested", detail={"note": note.pk})
    return note


def dunning_case_transfer_announce(*, link: PaymentLink, now: datetime) -> DunningCaseNote:
    """The buyer says they pay by bank transfer: automatic steps pause (no card is charged
    beside their transfer) and staff see it in the queue; Finance marks it paid when it lands."""
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=link.case_id)
        note = DunningCaseNote.objects.create(
            case=case, kind=DunningCaseNote.Kind.TRANSFER_ANNOUNCED, body="Announced on the page."
        )
        if case.status in ACTIVE_STATUSES and case.paused_at is None:
            case.paused_at = now
            case.pause_reason = "The buyer says they pay by bank transfer."
            case.next_action_at = None
            case.save(update_fields=["paused_at", "pause_reason", "next_action_at", "updated_at"])
        dunning_case_note_event(case=case, cause="transfer_announced", detail={"note": note.pk})
    return note
