"""Deciding to tell the buyer: each message is recorded once, under a unique key, and sent after
commit.

`notification_schedule` runs inside the transaction that made the news: it writes a
`Notification` row whose unique key is the sent-marker, and enqueues the send on commit. A
redelivered webhook or a second confirm finds the row and schedules nothing. Another app that
renders its own message (dunning's templates) records it with `notification_schedule_rendered`.
Staff resend a message as a new notification (`notification_resend`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from checkout.models import NOTIFICATION_MACHINE, Notification, Order
from checkout.tasks import notification_send_task
from config.celery import enqueue_on_commit
from config.transitions import status_event_record
from payments.models import Payment

logger = logging.getLogger(__name__)


def notification_key(*, kind: str, order: Order, payment: Payment | None, suffix: str = "") -> str:
    key = f"{kind}:order:{order.pk}:payment:{payment.pk if payment else '-'}"
    return f"{key}:{suffix}" if suffix else key


def notification_schedule(
    *,
    order: Order,
    kind: str,
    payment: Payment | None = None,
    suffix: str = "",
    context: dict[str, Any] | None = None,
    key: str = "",
) -> tuple[Notification, bool]:
    """Record that the customer must be told `kind`, once; send it after commit.

    `suffix` separates repeatable news about one payment (each partial refund is its own);
    `key` replaces the whole key (a resend). Returns the notification and whether it was newly
    scheduled.
    """
    key = key or notification_key(kind=kind, order=order, payment=payment, suffix=suffix)
    try:
        with transaction.atomic():
            notification, created = Notification.objects.get_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "order": order,
                    "payment": payment,
                    "to_email": order.email,
                    "context": context or {},
                },
            )
    except IntegrityError:
        notification, created = Notification.objects.get(key=key), False
    if created:
        enqueue_on_commit(notification_send_task, notification.pk)
    return notification, created


def payment_failed_notice_owned_elsewhere(*, order: Order, payment: Payment) -> bool:
    """True when a higher app tells the buyer about this failed payment itself (dunning: its
    case's first message replaces our `payment_failed` email, so the buyer never gets both).

    Asked through CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER, a dotted path checkout never imports by
    name (DESIGN.md §2b). If the hook is missing or fails, we send our own email: better told
    twice than not at all.
    """
    path = getattr(settings, "CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER", "")
    if not path:
        return False
    try:
        return bool(import_string(path)(order=order, payment=payment))
    except Exception:
        logger.exception("%s failed for payment %s; checkout sends its own email", path, payment.pk)
        return False


def notification_schedule_rendered(
    *,
    order: Order,
    key: str,
    kind: str,
    channel: str,
    language: str,
    template: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    to_email: str = "",
    to_phone: str = "",
    payment: Payment | None = None,
    context: dict[str, Any] | None = None,
) -> tuple[Notification, bool]:
    """Record a message rendered by its caller (another app's templates), once per `key`, and
    send it after commit. Returns the notification and whether it was newly scheduled."""
    try:
        with transaction.atomic():
            notification, created = Notification.objects.get_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "order": order,
                    "payment": payment,
                    "channel": channel,
                    "language": language,
                    "template": template,
                    "to_email": to_email,
                    "to_phone": to_phone,
                    "subject": " ".join(subject.split())[:200],
                    "body_text": body_text,
                    "body_html": body_html,
                    "context": context or {},
                },
            )
    except IntegrityError:
        notification, created = Notification.objects.get(key=key), False
    if created:
        enqueue_on_commit(notification_send_task, notification.pk)
    return notification, created


def notifications_for_payment_send(*, payment_id: int) -> int:
    """A document for this payment's emails is ready: send the ones that waited for it."""
    ids = list(
        Notification.objects.filter(
            payment_id=payment_id, status=Notification.Status.PENDING
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        enqueue_on_commit(notification_send_task, pk)
    return len(ids)


def notification_resend(*, notification_id: int, actor: Any) -> Notification:
    """Staff send a message again: a new notification with the same content and documents,
    recorded on both. Works for any status (a bounced address may have been fixed)."""
    original = Notification.objects.select_related("order").get(pk=notification_id)
    count = Notification.objects.filter(key__startswith=f"{original.key}:resend:").count()
    documents = [a["document"] for a in original.attachments] or list(
        original.context.get("documents", [])
    )
    with transaction.atomic():
        copy, _ = notification_schedule(
            order=original.order,
            kind=original.kind,
            payment=original.payment,
            context={**original.context, "documents": documents, "resend_of": original.pk},
            key=f"{original.key}:resend:{count + 1}"[:200],
        )
        status_event_record(
            NOTIFICATION_MACHINE,
            instance=original,
            cause="resent",
            actor=actor,
            detail={"new_notification": copy.pk},
        )
    return copy
