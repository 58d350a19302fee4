"""Reminders that belong to no case: a deposit's balance falling due, a saved card expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from checkout.models import Order, Subscription
from dunning.models import DunningCase
from dunning.schedule import language_for, zone_for
from dunning.selectors import case_amount_owed
from dunning.services.messages import dunning_order_message_send


def deposit_reminder_send(*, order: Order, now: datetime) -> bool:
    """The friendly note a few days before a deposit's balance is due (no case yet)."""
    owed = case_amount_owed(order=order, cause=DunningCase.Cause.DEPOSIT)
    if owed <= 0 or order.balance_due_at is None or order.balance_due_at <= now:
        return False
    phone = order.lead.phone if order.lead_id else ""
    sent = dunning_order_message_send(
        order=order,
        template_key="deposit_due_soon",
        key=f"dunning:order:{order.pk}:deposit_due_soon",
        language=language_for(country=order.billing_country),
        tz_name=zone_for(phone=phone, country=order.billing_country),
        amount=owed,
        due_date=order.balance_due_at,
    )
    return sent is not None


def card_expiry_reminders_send(*, now: datetime, limit: int = 200) -> int:
    """Pre-dunning (off unless DUNNING_CARD_EXPIRY_REMINDER_DAYS > 0): a renewing subscription
    whose card expires before its next charge, within that many days, gets one reminder."""
    days = settings.DUNNING_CARD_EXPIRY_REMINDER_DAYS
    if days <= 0:
        return 0
    horizon = now + timedelta(days=days)
    sent = 0
    subscriptions = (
        Subscription.objects.filter(
            status=Subscription.Status.ACTIVE,
            customer__card_exp_year__isnull=False,
            customer__card_exp_year__lte=horizon.year,
        )
        .select_related("customer", "order__offer", "order__lead")
        .order_by("pk")[:limit]
    )
    for subscription in subscriptions:
        customer = subscription.customer
        if customer.payment_method_id != subscription.payment_method_id:
            continue  # the card on file is not the one this subscription renews with
        year, month = customer.card_exp_year, customer.card_exp_month or 12
        expires_after = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=now.tzinfo)
        if not now < expires_after <= horizon or subscription.next_charge_at < expires_after:
            continue  # not expiring within the window, or charged before it expires
        order = subscription.order
        phone = order.lead.phone if order.lead_id else ""
        if dunning_order_message_send(
            order=order,
            template_key="card_expiring",
            key=f"dunning:subscription:{subscription.pk}:card_expiring:{year}-{month:02d}",
            language=language_for(country=order.billing_country),
            tz_name=zone_for(phone=phone, country=order.billing_country),
            amount=subscription.amount,
            card_last4=customer.card_last4,
            card_expiry=f"{month:02d}/{year}",
        ):
            sent += 1
    return sent
