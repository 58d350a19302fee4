"""Reconciliation with Stripe: a missed webhook never leaves a paid payment unnoticed, and an
intent whose amount or currency differs from our row is flagged, never passed over silently."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.audit import audit_log_record
from payments import gateway
from payments.models import Discrepancy, Dispute, Payment
from payments.selectors import payments_needing_reconciliation, payments_paid_to_recheck
from payments.services.charge import payment_refresh
from payments.services.discrepancies import discrepancy_open
from payments.services.refunds import payment_refunds_sync

logger = logging.getLogger(__name__)


def payments_reconcile(*, now=None, limit: int | None = None) -> dict[str, int]:
    """Ask Stripe about payments stuck in processing, requires_action or unknown.

    Each payment is claimed (skip locked, `last_reconciled_at` stamped) before Stripe is asked, so
    overlapping runs never ask twice and a failing payment is not retried every run.
    """
    now = now or timezone.now()
    after = timedelta(seconds=settings.PAYMENTS_RECONCILE_AFTER_SECONDS)
    limit = limit or settings.PAYMENTS_RECONCILE_BATCH
    with transaction.atomic():
        ids = list(
            payments_needing_reconciliation(stuck_before=now - after, checked_before=now - after)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        Payment.objects.filter(pk__in=ids).update(last_reconciled_at=now)
    counts = {"checked": 0, "changed": 0, "errors": 0}
    for payment_id in ids:
        payment = Payment.objects.get(pk=payment_id)
        before = payment.status
        try:
            # Applying what Stripe says also flags an amount or currency that differs from ours.
            payment = payment_refresh(payment=payment, cause="reconcile")
        except gateway.GatewayError as exc:
            counts["errors"] += 1
            logger.warning("reconcile of payment %s failed: %s", payment_id, exc)
            continue
        counts["checked"] += 1
        if payment.status != before:
            counts["changed"] += 1
    return counts


def payments_recheck_paid(*, now=None, limit: int | None = None) -> dict[str, int]:
    """Compare recently succeeded payments with Stripe's refunded amount and dispute flag.

    Any difference opens a discrepancy for finance (once per payment) with both figures. A
    refund Stripe has and we do not is also applied (access follows the money); a refund or
    dispute we count and Stripe does not is only reported, since finance must find out why.
    Claimed like `payments_reconcile`, so overlapping runs never ask twice.
    """
    now = now or timezone.now()
    limit = limit or settings.PAYMENTS_RECONCILE_BATCH
    every = timedelta(seconds=settings.PAYMENTS_RECHECK_PAID_EVERY_SECONDS)
    with transaction.atomic():
        ids = list(
            payments_paid_to_recheck(
                paid_since=now - timedelta(days=settings.PAYMENTS_RECHECK_PAID_DAYS),
                checked_before=now - every,
            )
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        Payment.objects.filter(pk__in=ids).update(last_reconciled_at=now)
    counts = {"checked": 0, "mismatched": 0, "errors": 0}
    for payment_id in ids:
        payment = Payment.objects.get(pk=payment_id)
        try:
            stripe_view = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
        except gateway.GatewayError as exc:
            counts["errors"] += 1
            logger.warning("recheck of payment %s failed: %s", payment_id, exc)
            continue
        counts["checked"] += 1
        if _paid_payment_compare(payment=payment, stripe_view=stripe_view):
            counts["mismatched"] += 1
    return counts


def _paid_payment_compare(*, payment: Payment, stripe_view: gateway.PaymentIntentResult) -> bool:
    disputed_here = Dispute.objects.filter(payment=payment).exists()
    if (
        stripe_view.amount_refunded == payment.amount_refunded
        and stripe_view.charge_disputed == disputed_here
    ):
        return False
    with transaction.atomic():
        _, opened = discrepancy_open(
            kind=Discrepancy.Kind.STRIPE_MISMATCH,
            order_id=payment.order_id,
            payment_id=payment.pk,
            amount=abs(stripe_view.amount_refunded - payment.amount_refunded),
            currency=payment.currency,
            detail={
                "payment_intent": payment.stripe_payment_intent_id,
                "stripe_amount_refunded": stripe_view.amount_refunded,
                "our_amount_refunded": payment.amount_refunded,
                "stripe_disputed": stripe_view.charge_disputed,
                "our_disputed": disputed_here,
            },
        )
        if stripe_view.amount_refunded > payment.amount_refunded:
            payment_refunds_sync(
                payment_id=payment.pk,
                amount_refunded=stripe_view.amount_refunded,
                charged=stripe_view.amount_received or payment.amount_received or payment.amount,
                cause="reconcile",
            )
    if opened:
        logger.warning(
            "payment %s differs from Stripe: refunded %s here, %s at Stripe; disputed %s here, "
            "%s at Stripe",
            payment.pk, payment.amount_refunded, stripe_view.amount_refunded, disputed_here,
            stripe_view.charge_disputed,
        )  # fmt: skip
    return True


def discrepancy_assign(*, discrepancy_id: int, owner: Any, actor: Any) -> Discrepancy:
    """Give a discrepancy to a member of finance (or take it back with `owner=None`)."""
    with transaction.atomic():
        discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
        previous = discrepancy.owner_id
        discrepancy.owner = owner if getattr(owner, "pk", None) else None
        discrepancy.save(update_fields=["owner"])
        audit_log_record(
            actor=actor,
            action="payments.discrepancy_assign",
            target=discrepancy,
            detail={"from_owner": previous, "to_owner": discrepancy.owner_id},
        )
    return discrepancy


class DiscrepancyNotResolvable(Exception):
    """A resolution needs a note saying what was done."""


def discrepancy_resolve(*, discrepancy_id: int, note: str, actor: Any) -> Discrepancy:
    """Close a discrepancy with what finance did about it. Resolving twice changes nothing."""
    note = (note or "").strip()
    if not note:
        raise DiscrepancyNotResolvable("Write a resolution note saying what was done.")
    with transaction.atomic():
        discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
        if discrepancy.status == Discrepancy.Status.RESOLVED:
            return discrepancy
        discrepancy.status = Discrepancy.Status.RESOLVED
        discrepancy.resolution_note = note
        discrepancy.resolved_at = timezone.now()
        if discrepancy.owner_id is None and getattr(actor, "pk", None):
            discrepancy.owner = actor
        discrepancy.save(update_fields=["status", "resolution_note", "resolved_at", "owner"])
        audit_log_record(
            actor=actor,
            action="payments.discrepancy_resolve",
            target=discrepancy,
            detail={"kind": discrepancy.kind, "note": note[:1000]},
        )
    return discrepancy
