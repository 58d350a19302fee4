"""Customer emails about an order's money, each sent at most once.

`notification_schedule` runs inside the transaction that made the news: it writes a
`Notification` row whose unique key is the sent-marker, and enqueues the send on commit. A
redelivered webhook or a second confirm finds the row and schedules nothing. The send task locks
the row, so two workers never send the same email; a sweeper re-drives rows left pending.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from checkout.models import Notification, Order
from config.celery import enqueue_on_commit
from payments.models import Payment

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5


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
) -> tuple[Notification, bool]:
    """Record that the customer must be told `kind`, once; send it after commit.

    `suffix` separates repeatable news about one payment (each partial refund is its own).
    Returns the notification and whether it was newly scheduled.
    """
    from checkout.tasks import notification_send_task

    key = notification_key(kind=kind, order=order, payment=payment, suffix=suffix)
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


def notification_send(*, notification_id: int) -> Notification:
    """Render and send one notification, unless it was already sent (idempotent)."""
    notification = _notification_send(notification_id=notification_id)
    _secrets_strike(notification)
    return notification


def _secrets_strike(notification: Notification) -> None:
    """A rendered message may carry one-time secrets (a payment link's token, listed in
    `context["secrets"]` by its author). Once the message is sent, or will never be, they are
    struck from the stored copy: the message log keeps what was said, not a working link."""
    secrets = (notification.context or {}).get("secrets")
    if not secrets or notification.status == Notification.Status.PENDING:
        return
    for secret in secrets:
        notification.body_text = notification.body_text.replace(secret, "[redacted]")
        notification.body_html = notification.body_html.replace(secret, "[redacted]")
    notification.context = {k: v for k, v in notification.context.items() if k != "secrets"}
    notification.save(update_fields=["body_text", "body_html", "context"])


def _notification_send(*, notification_id: int) -> Notification:
    from checkout.notifications import notification_message

    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.status != Notification.Status.PENDING:
            return notification
        notification.attempts += 1
        if notification.channel == Notification.Channel.SMS:
            return _sms_send(notification)
        try:
            subject, text, html = notification_message(notification)
            message = EmailMultiAlternatives(
                subject=subject,
                body=text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notification.to_email],
                reply_to=[settings.SELLER_SUPPORT_EMAIL],
            )
            message.attach_alternative(html, "text/html")
            message.send()
        except Exception as exc:  # SMTP or template trouble: keep the row, retry by sweeper
            logger.exception("notification %s failed to send", notification.pk)
            notification.last_error = str(exc)[:1000]
            if notification.attempts >= MAX_SEND_ATTEMPTS:
                notification.status = Notification.Status.FAILED
            notification.save(update_fields=["attempts", "last_error", "status"])
            return notification
        notification.subject = subject[:200]
        notification.status = Notification.Status.SENT
        notification.sent_at = timezone.now()
        notification.save(update_fields=["attempts", "subject", "status", "sent_at", "last_error"])
    return notification


def notification_sms_allowed(*, order: Order) -> bool:
    """SMS to this order's buyer is allowed: the lead's consent ledger says `sms` is granted now
    (Lead.consents is kept in step with the ledger, in the same transaction). Service messages
    need no marketing consent; texting a phone does need this one."""
    from leads.models import ConsentPurpose, ConsentState

    lead = order.lead
    return lead is not None and lead.consent_state(ConsentPurpose.SMS) == ConsentState.GRANTED


def _sms_send(notification: Notification) -> Notification:
    """Send a text message row (called under its lock). Consent is checked again at sending: a
    withdrawal between deciding and sending wins."""
    from config.sms import SmsDeliveryError, send_sms

    if not notification_sms_allowed(order=notification.order):
        notification.status = Notification.Status.FAILED
        notification.last_error = "not sent: no SMS consent in the ledger"
        notification.save(update_fields=["attempts", "last_error", "status"])
        return notification
    try:
        send_sms(to=notification.to_phone, body=notification.body_text)
    except SmsDeliveryError as exc:  # a number the backend refuses: retrying will not help
        notification.status = Notification.Status.FAILED
        notification.last_error = str(exc)[:1000]
        notification.save(update_fields=["attempts", "last_error", "status"])
        return notification
    except Exception as exc:  # the provider is down: keep the row, retry by sweeper
        logger.exception("notification %s (sms) failed to send", notification.pk)
        notification.last_error = str(exc)[:1000]
        if notification.attempts >= MAX_SEND_ATTEMPTS:
            notification.status = Notification.Status.FAILED
        notification.save(update_fields=["attempts", "last_error", "status"])
        return notification
    notification.status = Notification.Status.SENT
    notification.sent_at = timezone.now()
    notification.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    return notification


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
    from checkout.tasks import notification_send_task

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


def notifications_redrive(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Enqueue the send again for notifications stored but never sent (the outbox sweeper)."""
    from checkout.tasks import notification_send_task

    cutoff = timezone.now() - older_than
    ids = list(
        Notification.objects.filter(
            status=Notification.Status.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        enqueue_on_commit(notification_send_task, pk)
    return len(ids)
