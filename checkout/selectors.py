"""checkout's reads: orders' holds, subscriptions due, why access is suspended, tax rates.

What the customer portal shows is in checkout/portal/selectors.py.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from checkout.models import Entitlement, EntitlementEvent, Offer, Order, Subscription, TaxRate
from payments.models import Payment


def order_hold(order: Order, *, authorized_only: bool = False) -> Payment | None:
    """The order's latest card hold (a failed one never counts): the one staff act on."""
    holds = order.payments.filter(capture_method=Payment.CaptureMethod.MANUAL).exclude(
        status=Payment.Status.FAILED
    )
    if authorized_only:
        holds = holds.filter(status=Payment.Status.AUTHORIZED)
    return holds.order_by("-created_at", "-pk").first()


def entitlement_suspension_cause(entitlement: Entitlement) -> str:
    """Why a suspended entitlement was suspended: the cause of its last move to suspended
    ("" when it is not suspended)."""
    if entitlement.status != Entitlement.Status.SUSPENDED:
        return ""
    last = (
        EntitlementEvent.objects.filter(entitlement=entitlement, to_status=entitlement.status)
        .order_by("-created_at", "-pk")
        .values_list("cause", flat=True)
        .first()
    )
    return last or ""


def tax_rate_for(*, offer: Offer, country: str) -> TaxRate | None:
    """The offer's own rate for the country, else the global one, else none."""
    country = (country or "").upper()
    rates = TaxRate.objects.filter(Q(offer=offer) | Q(offer__isnull=True), country=country)
    return rates.order_by(F("offer").asc(nulls_last=True)).first()


def subscriptions_due(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        Subscription.objects.filter(status=Subscription.Status.ACTIVE, next_charge_at__lte=now)
        .order_by("next_charge_at")
        .values_list("pk", flat=True)[:limit]
    )


def order_entitlement_active(*, order: Order) -> Entitlement | None:
    """The access this order grants now, if any."""
    return Entitlement.objects.filter(order=order, status=Entitlement.Status.ACTIVE).first()
