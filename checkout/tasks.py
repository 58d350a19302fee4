"""Checkout tasks: each takes ids, loads by id and calls one service; running twice is harmless.

Services import these tasks to enqueue them, so a task imports its service inside its body.
"""

from __future__ import annotations

import logging

from celery import shared_task

from payments.models import Payment
from payments.services import payment_risk_unknown

logger = logging.getLogger(__name__)


# Seconds between attempts to learn Radar's verdict while Stripe cannot be reached (well under
# the broker's visibility timeout: STYLE.md, Celery).
RISK_RETRY_SECONDS = 60
RISK_MAX_RETRIES = 30


@shared_task(bind=True, name="checkout.order_payment_record", max_retries=RISK_MAX_RETRIES)
def order_payment_record_task(self, payment_id: int) -> None:
    """For every payment signal: the order's accounting, access and email follow the payment.

    While the payment's Radar verdict is still unknown (Stripe could not be asked), access is
    held back; the task runs again until the verdict is in.
    """
    from checkout.services.accounting import PaymentWithoutOrder, order_payment_record
    from checkout.services.orders import order_flag_for_review

    try:
        order_payment_record(payment_id=payment_id)
    except PaymentWithoutOrder:
        logger.info("payment %s has no order; nothing for checkout to do", payment_id)
        return
    payment = Payment.objects.get(pk=payment_id)
    if not payment_risk_unknown(payment):
        return
    if self.request.retries < self.max_retries:
        raise self.retry(countdown=RISK_RETRY_SECONDS)
    # Stripe never told us: a person decides (fail closed, and visible in the review queue).
    order_flag_for_review(
        order_id=payment.order_id, reason="Radar verdict could not be retrieved from Stripe"
    )
    order_payment_record(payment_id=payment_id)


@shared_task(name="checkout.notification_send")
def notification_send_task(notification_id: int) -> None:
    from checkout.notifications import notification_send

    notification_send(notification_id=notification_id)


@shared_task(name="checkout.notifications_redrive")
def notifications_redrive_task() -> None:
    """Beat: send again what was stored but never sent (the broker was down at commit)."""
    from checkout.notifications import notifications_redrive

    notifications_redrive()


@shared_task(name="checkout.portal_link_send")
def portal_link_send_task(email: str) -> None:
    from checkout.portal.links import portal_link_send

    portal_link_send(email=email)


@shared_task(name="checkout.subscriptions_renew_due")
def subscriptions_renew_due_task() -> int:
    """Charge every renewal that is due (beat). Each one is claimed with a skip-locked lock."""
    from checkout.selectors import subscriptions_due
    from checkout.services.subscriptions import subscription_renew

    charged = 0
    for subscription_id in subscriptions_due():
        if subscription_renew(subscription_id=subscription_id) is not None:
            charged += 1
    return charged
