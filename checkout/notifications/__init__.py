"""Messages to the buyer (email and SMS, every app's): checkout's message log.

- `schedule`: deciding to tell the buyer, once per unique key, sent after commit;
- `delivery`: sending, retries with backoff, attachments from higher apps, bounces, the sweeper;
- `bounces`: the mail provider's bounce reports (POST /webhooks/email/bounce/, anymail's signal);
- `content`: what checkout's own emails say (subjects, plain-language failure reasons, context).

Import from here: `from checkout.notifications import notification_schedule`.
"""

from checkout.notifications.content import (
    FAILURE_ADVICE,
    SUBJECTS,
    FailureAdvice,
    failure_advice,
    notification_context,
    notification_message,
)
from checkout.notifications.delivery import (
    MAX_SEND_ATTEMPTS,
    RETRY_AFTER,
    NotificationAttachment,
    NotificationAttachments,
    notification_attachments,
    notification_bounce_record,
    notification_due,
    notification_send,
    notification_sms_allowed,
    notification_transition,
    notifications_redrive,
)
from checkout.notifications.schedule import (
    notification_key,
    notification_resend,
    notification_schedule,
    notification_schedule_rendered,
    notifications_for_payment_send,
    payment_failed_notice_owned_elsewhere,
)

__all__ = [
    "FAILURE_ADVICE",
    "MAX_SEND_ATTEMPTS",
    "RETRY_AFTER",
    "SUBJECTS",
    "FailureAdvice",
    "NotificationAttachment",
    "NotificationAttachments",
    "failure_advice",
    "notification_attachments",
    "notification_bounce_record",
    "notification_context",
    "notification_due",
    "notification_key",
    "notification_message",
    "notification_resend",
    "notification_schedule",
    "notification_schedule_rendered",
    "notification_send",
    "notification_sms_allowed",
    "notification_transition",
    "notifications_for_payment_send",
    "notifications_redrive",
    "payment_failed_notice_owned_elsewhere",
]
