"""Sending a recorded message, at most once, and tracking its delivery.

The send task locks the row, so two workers never send the same email; a sweeper
(`notifications_redrive`) re-drives rows left pending.

Attachments. A higher app may have a document for an email (the receipt for a confirmed
payment, the credit note for a refund). checkout never imports it (DESIGN.md §2b): the function
named by `settings.NOTIFICATION_ATTACHMENTS_PROVIDER` is asked, at send time, which files go
with a notification and whether one is still being made. An email waits for a file being made
(up to NOTIFICATION_ATTACHMENT_WAIT_SECONDS after it was scheduled); the providing app calls
`notifications_for_payment_send` when its file is ready, and the email then goes with it. A file
that misses the deadline is the providing app's to send on its own (a RECEIPT or CREDIT_NOTE
notification). So the buyer gets one email per event, with its documents.

Delivery. Status moves only through `notification_transition` (NOTIFICATION_TRANSITIONS, a row
lock, a NotificationEvent for every outcome): queued (`pending`) → sent or, after
MAX_SEND_ATTEMPTS, failed; sent → bounced when the mail provider reports it
(`notification_bounce_record`). A failed send is retried with backoff counted from when the
email was scheduled (RETRY_AFTER).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from checkout.models import NOTIFICATION_MACHINE, Notification, Order
from checkout.notifications.content import notification_message
from checkout.signals import notification_delivered
from checkout.tasks import notification_send_task
from config.celery import enqueue_on_commit
from config.sms import SmsDeliveryError, send_sms
from config.transitions import Outcome, status_event_record, transition
from leads.models import ConsentPurpose, ConsentState

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
# How long after it was scheduled an email that failed `n` times may be tried again (index n).
RETRY_AFTER = (
    timedelta(0),
    timedelta(minutes=5),
    timedelta(minutes=20),
    timedelta(hours=1),
    timedelta(hours=3),
)


@dataclass(frozen=True)
class NotificationAttachment:
    """A file for an email. `document` is the providing app's own name for it ("receipt:12")."""

    document: str
    filename: str
    content: bytes
    label: str = ""
    content_type: str = "application/pdf"
    sha256: str = ""


@dataclass(frozen=True)
class NotificationAttachments:
    files: list[NotificationAttachment] = field(default_factory=list)
    # A file for this email is still being made: wait for it (until the deadline).
    waiting: bool = False


def notification_attachments(notification: Notification) -> NotificationAttachments:
    path = getattr(settings, "NOTIFICATION_ATTACHMENTS_PROVIDER", "")
    if not path:
        return NotificationAttachments()
    return import_string(path)(notification=notification)


def notification_due(notification: Notification, now: datetime) -> bool:
    """Whether a queued email may be tried now (backoff after failed attempts)."""
    attempts = min(notification.attempts, len(RETRY_AFTER) - 1)
    return notification.created_at + RETRY_AFTER[attempts] <= now


def _due(now: datetime) -> Q:
    return reduce(
        or_,
        [Q(attempts=0)]
        + [
            Q(attempts=n, created_at__lte=now - RETRY_AFTER[min(n, len(RETRY_AFTER) - 1)])
            for n in range(1, MAX_SEND_ATTEMPTS)
        ],
    )


def _attachment_deadline(notification: Notification) -> datetime:
    wait = getattr(settings, "NOTIFICATION_ATTACHMENT_WAIT_SECONDS", 0)
    return notification.created_at + timedelta(seconds=wait)


def notification_transition(
    *,
    notification_id: int,
    to_status: str,
    cause: str,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Notification, bool]:
    """Move a notification to `to_status` if NOTIFICATION_TRANSITIONS allows it; record the
    attempt either way. `fields` are set with an applied move. Returns (notification, applied).
    """

    def on_apply(notification: Notification, from_status: str) -> dict[str, Any]:
        return dict(fields or {})

    def after_commit(notification: Notification, from_status: str) -> None:
        if to_status in (Notification.Status.SENT, Notification.Status.BOUNCED):
            _delivered_send(notification.pk, to_status)

    # `fields` go with an applied move only: a second "sent" for a sent email changes nothing.
    notification, outcome = transition(
        NOTIFICATION_MACHINE,
        pk=notification_id,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        on_apply=on_apply,
        after_commit=after_commit,
    )
    return notification, outcome == Outcome.APPLIED


def _delivered_send(notification_id: int, status: str) -> None:
    for receiver, response in notification_delivered.send_robust(
        sender=Notification, notification_id=notification_id, status=status
    ):
        if isinstance(response, Exception):
            logger.error("receiver %r failed for notification %s", receiver, notification_id)


def _message_id() -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "localhost"
    return make_msgid(domain=domain)


def notification_send(*, notification_id: int) -> Notification:
    """Render and send one notification, unless it was already sent (idempotent), is not due
    yet (backoff), or waits for an attachment being made (until its deadline)."""
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
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.status != Notification.Status.PENDING:
            return notification
        if not notification_due(notification, now):
            return notification
        attachments = notification_attachments(notification)
        if attachments.waiting and now < _attachment_deadline(notification):
            return notification  # sent when the file is ready, or by the sweeper at the deadline
        notification.attempts += 1
        if notification.channel == Notification.Channel.SMS:
            return _sms_send(notification)
        message_id = _message_id()
        try:
            subject, text, html = notification_message(
                notification,
                attached=[f.label or f.filename for f in attachments.files],
                to_follow=attachments.waiting,
            )
            message = EmailMultiAlternatives(
                subject=subject,
                body=text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notification.to_email],
                reply_to=[settings.SELLER_SUPPORT_EMAIL],
                headers={"Message-ID": message_id},
            )
            message.attach_alternative(html, "text/html")
            for file in attachments.files:
                message.attach(file.filename, file.content, file.content_type)
            message.send()
        except Exception as exc:  # SMTP or template trouble: keep the row, retry by sweeper
            logger.exception("notification %s failed to send", notification.pk)
            notification.last_error = str(exc)[:1000]
            notification.save(update_fields=["attempts", "last_error"])
            if notification.attempts >= MAX_SEND_ATTEMPTS:
                notification_transition(
                    notification_id=notification.pk,
                    to_status=Notification.Status.FAILED,
                    cause="send_failed",
                    detail={"attempts": notification.attempts, "error": str(exc)[:300]},
                )
            else:
                attempts = min(notification.attempts, len(RETRY_AFTER) - 1)
                retry_at = notification.created_at + RETRY_AFTER[attempts]
                status_event_record(
                    NOTIFICATION_MACHINE,
                    instance=notification,
                    cause="send_failed",
                    detail={
                        "attempts": notification.attempts,
                        "error": str(exc)[:300],
                        "retry_after": retry_at.isoformat(),
                    },
                )
            notification.refresh_from_db()
            return notification
        status = getattr(message, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        sent = [
            {
                "document": f.document,
                "filename": f.filename,
                "content_type": f.content_type,
                "sha256": f.sha256,
                "size": len(f.content),
            }
            for f in attachments.files
        ]
        notification, _ = notification_transition(
            notification_id=notification.pk,
            to_status=Notification.Status.SENT,
            cause="sent",
            detail={
                "attempt": notification.attempts,
                "attachments": [a["document"] for a in sent],
                "without_waited_attachment": attachments.waiting,
            },
            fields={
                "attempts": notification.attempts,
                "subject": subject[:200],
                "sent_at": timezone.now(),
                "last_error": "",
                "attachments": sent,
                "message_id": str(provider_id or message_id)[:255],
            },
        )
    return notification


def notification_sms_allowed(*, order: Order) -> bool:
    """SMS to this order's buyer is allowed: the lead's consent ledger says `sms` is granted now
    (Lead.consents is kept in step with the ledger, in the same transaction). Service messages
    need no marketing consent; texting a phone does need this one."""
    lead = order.lead
    return lead is not None and lead.consent_state(ConsentPurpose.SMS) == ConsentState.GRANTED


def _sms_send(notification: Notification) -> Notification:
    """Send a text message row (called under its lock, its attempt counted). Consent is checked
    again at sending: a withdrawal between deciding and sending wins."""

    def failed(cause: str, error: str) -> Notification:
        notification.last_error = error[:1000]
        notification.save(update_fields=["attempts", "last_error"])
        updated, _ = notification_transition(
            notification_id=notification.pk,
            to_status=Notification.Status.FAILED,
            cause=cause,
            detail={"attempts": notification.attempts, "error": error[:300]},
        )
        return updated

    if not notification_sms_allowed(order=notification.order):
        return failed("no_sms_consent", "not sent: no SMS consent in the ledger")
    try:
        send_sms(to=notification.to_phone, body=notification.body_text)
    except SmsDeliveryError as exc:  # a number the backend refuses: retrying will not help
        return failed("sms_refused", str(exc))
    except Exception as exc:  # the provider is down: keep the row, retry by sweeper
        logger.exception("notification %s (sms) failed to send", notification.pk)
        if notification.attempts >= MAX_SEND_ATTEMPTS:
            return failed("send_failed", str(exc))
        notification.last_error = str(exc)[:1000]
        notification.save(update_fields=["attempts", "last_error"])
        status_event_record(
            NOTIFICATION_MACHINE,
            instance=notification,
            cause="send_failed",
            detail={"attempts": notification.attempts, "error": str(exc)[:300]},
        )
        return notification
    updated, _ = notification_transition(
        notification_id=notification.pk,
        to_status=Notification.Status.SENT,
        cause="sent",
        detail={"attempt": notification.attempts, "channel": "sms"},
        fields={"attempts": notification.attempts, "sent_at": timezone.now(), "last_error": ""},
    )
    return updated


def notification_bounce_record(
    *, message_id: str, reason: str = "", source: str = "webhook", event_id: str = ""
) -> Notification | None:
    """The mail provider could not deliver a message: mark it bounced (once)."""
    message_id = (message_id or "").strip()
    if not message_id:
        return None
    candidates = {message_id, message_id.strip("<>"), f"<{message_id.strip('<>')}>"}
    notification = Notification.objects.filter(message_id__in=candidates).first()
    if notification is None:
        logger.info("bounce for unknown message %r ignored", message_id[:100])
        return None
    notification, _ = notification_transition(
        notification_id=notification.pk,
        to_status=Notification.Status.BOUNCED,
        cause=f"bounce_{source}"[:50],
        detail={"reason": reason[:500], "event_id": event_id[:100]},
        fields={"bounced_at": timezone.now(), "last_error": f"Bounced: {reason}"[:1000]},
    )
    return notification


def notifications_redrive(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Enqueue the send again for notifications stored but never sent and due (the outbox
    sweeper): lost enqueues, failed attempts after their backoff, and emails that waited for
    an attachment (sent at their deadline, with or without it)."""
    now = timezone.now()
    cutoff = now - older_than
    ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, created_at__lt=cutoff)
        .filter(_due(now))
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        enqueue_on_commit(notification_send_task, pk)
    return len(ids)
