"""Messages to the buyer: rendered here from the editable templates, recorded and sent through
checkout's `Notification` (the one message log; DESIGN.md §3)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.template import Context, Template

from checkout.models import Notification, Order
from checkout.notifications import (
    notification_schedule_rendered,
    notification_sms_allowed,
)
from checkout.portal.links import portal_url
from config.money import money_format
from dunning.declines import decline_classify
from dunning.models import DunningCase, DunningMessageTemplate
from dunning.schedule import zone
from dunning.services.links import payment_link_create, payment_link_url
from dunning.services.policies import dunning_template_get
from dunning.services.transitions import dunning_case_note_event

logger = logging.getLogger(__name__)

_N = Notification


def _render(source: str, context: dict[str, Any], *, html: bool) -> str:
    return Template(source).render(Context(context, autoescape=html))


def message_context(
    *, order: Order, language: str, tz_name: str, amount: int, currency: str, **extra: Any
) -> dict[str, Any]:
    """What every template may use (docs/dunning.md lists the names)."""
    context = {
        "name": order.name,
        "offer_name": order.offer.name,
        "reference": order.reference,
        "amount": money_format(amount, currency, locale=language),
        "support_email": settings.SELLER_SUPPORT_EMAIL,
        "support_phone": settings.DUNNING_SUPPORT_PHONE,
        "seller_name": settings.SELLER_LEGAL_NAME,
        "portal_url": portal_url(email=order.email),
        "what_happened": "",
        "what_to_do": "",
        "pay_url": "",
        "link_expires": "",
    }
    context.update(extra)
    for key in ("link_expires", "due_date"):
        value = context.get(key)
        if isinstance(value, datetime):
            context[key] = format_date(value.astimezone(zone(tz_name)), "long", locale=language)
    return context


def message_render(
    *, template: DunningMessageTemplate, context: dict[str, Any]
) -> tuple[str, str, str, str]:
    """(subject, text, html, sms) of a template for a context."""
    subject = " ".join(_render(template.subject, context, html=False).split())
    return (
        subject,
        _render(template.body_text, context, html=False),
        _render(template.body_html, context, html=True),
        " ".join(_render(template.sms_text, context, html=False).split()),
    )


def case_message_context(*, case: DunningCase, **extra: Any) -> dict[str, Any]:
    rule = decline_classify(decline_code=case.decline_code, failure_code=case.failure_code)
    words = rule.for_language(case.language)
    return message_context(
        order=case.order,
        language=case.language,
        tz_name=case.timezone,
        amount=extra.pop("amount", case.amount),
        currency=case.currency,
        what_happened=words.what_happened,
        what_to_do=words.what_to_do,
        **extra,
    )


def dunning_message_send(
    *,
    case: DunningCase,
    template_key: str,
    channel: str,
    key: str,
    now: datetime,
    actor: Any = None,
) -> Notification | None:
    """Send one message of a case, with a fresh payment link, once per `key`.

    Call it inside the transaction that records the step (the case row locked): the link, the
    message and the step's progress commit together, so a redelivered step sends nothing twice.
    A text message needs a phone number and SMS consent in the ledger; without them nothing is
    sent and the case says why.
    """
    order = case.order
    phone = ""
    if channel == _N.Channel.SMS:
        phone = order.lead.phone if order.lead_id else ""
        if not phone or not notification_sms_allowed(order=order):
            dunning_case_note_event(
                case=case,
                cause="sms_not_sent",
                detail={"reason": "no phone number" if not phone else "no SMS consent"},
            )
            return None
    existing = Notification.objects.filter(key=key).first()
    if existing is not None:
        return existing
    link, token = payment_link_create(case=case, now=now, created_by=actor, sent_in=key)
    template = dunning_template_get(key=template_key, language=case.language)
    context = case_message_context(
        case=case, amount=link.amount, pay_url=payment_link_url(token), link_expires=link.expires_at
    )
    subject, text, html, sms = message_render(template=template, context=context)
    notification, _ = notification_schedule_rendered(
        order=order,
        key=key,
        kind=_N.Kind.PAYMENT_REMINDER,
        channel=channel,
        language=template.language,
        template=f"dunning/{template_key}",
        subject=subject,
        body_text=sms if channel == _N.Channel.SMS else text,
        body_html="" if channel == _N.Channel.SMS else html,
        to_email=order.email if channel == _N.Channel.EMAIL else "",
        to_phone=phone,
        payment=case.failed_payment,
        # The token is struck from the stored copy once sent: only its hash stays (the link).
        context={"case": case.pk, "link": link.pk, "amount": link.amount, "secrets": [token]},
    )
    return notification


def dunning_order_message_send(
    *,
    order: Order,
    template_key: str,
    key: str,
    language: str,
    tz_name: str,
    amount: int,
    **extra: Any,
) -> Notification | None:
    """A message about an order that has no case (a deposit due soon, a card expiring)."""
    if Notification.objects.filter(key=key).exists():
        return None
    template = dunning_template_get(key=template_key, language=language)
    context = message_context(
        order=order,
        language=language,
        tz_name=tz_name,
        amount=amount,
        currency=order.currency,
        **extra,
    )
    subject, text, html, _ = message_render(template=template, context=context)
    notification, _ = notification_schedule_rendered(
        order=order,
        key=key,
        kind=_N.Kind.CARD_EXPIRING if template_key == "card_expiring" else _N.Kind.PAYMENT_REMINDER,
        channel=_N.Channel.EMAIL,
        language=template.language,
        template=f"dunning/{template_key}",
        subject=subject,
        body_text=text,
        body_html=html,
        to_email=order.email,
    )
    return notification
