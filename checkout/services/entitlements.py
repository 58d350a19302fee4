"""The access an order grants: granted once at the moment of payment, suspended on a dispute,
restored when the dispute is won, revoked on a full refund or a lost dispute.

Each service is idempotent: asking for the state the entitlement is already in changes nothing
and records nothing. Every change locks the row, records an EntitlementEvent and an audit entry.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import Entitlement, EntitlementEvent, Order
from config.audit import audit_log_record
from payments.models import Payment

logger = logging.getLogger(__name__)

_S = Entitlement.Status
# revoked is final: access that was taken back for a refund or a lost dispute is never given
# back automatically (staff can grant a new order).
ENTITLEMENT_TRANSITIONS: dict[str, set[str]] = {
    _S.ACTIVE: {_S.SUSPENDED, _S.REVOKED},
    _S.SUSPENDED: {_S.ACTIVE, _S.REVOKED},
    _S.REVOKED: set(),
}

# Unambiguous letters and digits (no 0/O, 1/I/L), read aloud or typed from an email.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _access_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def entitlement_grant(*, order: Order, payment: Payment | None, actor: Any = None) -> Entitlement:
    """The order's entitlement, created once (the order has at most one, by a unique key).

    Safe to call from the server confirm and from the webhook task at the same time: the second
    caller gets the row the first one created. An existing entitlement is returned unchanged,
    whatever its status.
    """
    existing = Entitlement.objects.filter(order=order).first()
    if existing is not None:
        return existing
    offer = order.offer
    try:
        with transaction.atomic():
            entitlement = Entitlement.objects.create(
                order=order,
                access_name=(offer.access_name or offer.name)[:200],
                access_url=offer.access_url,
                access_code=_access_code(),
                status=_S.ACTIVE,
                granted_at=timezone.now(),
                granted_by_payment=payment,
            )
    except IntegrityError:
        # Another transaction granted it first (or, once in 10^17, the code collided: the
        # retry below then finds nothing and the caller's redelivery grants it).
        return Entitlement.objects.get(order=order)
    _record(entitlement, "", _S.ACTIVE, cause="payment", payment=payment, actor=actor)
    return entitlement


def entitlement_suspend(
    *, order: Order, cause: str, payment: Payment | None = None, actor: Any = None
) -> Entitlement | None:
    """Pause access (a dispute was opened). None if the order has no entitlement."""
    return _move(order=order, to_status=_S.SUSPENDED, cause=cause, payment=payment, actor=actor)


def entitlement_restore(
    *, order: Order, cause: str, payment: Payment | None = None, actor: Any = None
) -> Entitlement | None:
    """Give suspended access back (the dispute was won). A revoked entitlement stays revoked."""
    return _move(order=order, to_status=_S.ACTIVE, cause=cause, payment=payment, actor=actor)


def entitlement_revoke(
    *, order: Order, cause: str, payment: Payment | None = None, actor: Any = None
) -> Entitlement | None:
    """Take access away for good (a full refund, a lost dispute, or a released hold)."""
    return _move(order=order, to_status=_S.REVOKED, cause=cause, payment=payment, actor=actor)


def _move(
    *, order: Order, to_status: str, cause: str, payment: Payment | None, actor: Any
) -> Entitlement | None:
    with transaction.atomic():
        entitlement = Entitlement.objects.select_for_update().filter(order=order).first()
        if entitlement is None or entitlement.status == to_status:
            return entitlement
        from_status = entitlement.status
        if to_status not in ENTITLEMENT_TRANSITIONS[from_status]:
            logger.info(
                "entitlement %s: %s -> %s refused (cause %s)",
                entitlement.pk, from_status, to_status, cause,
            )  # fmt: skip
            return entitlement
        now = timezone.now()
        entitlement.status = to_status
        if to_status == _S.SUSPENDED:
            entitlement.suspended_at = now
        elif to_status == _S.REVOKED:
            entitlement.revoked_at = now
        elif to_status == _S.ACTIVE:
            entitlement.suspended_at = None
        entitlement.save(update_fields=["status", "suspended_at", "revoked_at"])
        _record(entitlement, from_status, to_status, cause=cause, payment=payment, actor=actor)
    return entitlement


def _record(
    entitlement: Entitlement,
    from_status: str,
    to_status: str,
    *,
    cause: str,
    payment: Payment | None,
    actor: Any,
) -> None:
    detail = {"order": entitlement.order_id, "payment": getattr(payment, "pk", None)}
    EntitlementEvent.objects.create(
        entitlement=entitlement,
        from_status=from_status,
        to_status=to_status,
        cause=cause,
        payment=payment,
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail,
    )
    action = {
        _S.ACTIVE: "entitlement_restore" if from_status else "entitlement_grant",
        _S.SUSPENDED: "entitlement_suspend",
        _S.REVOKED: "entitlement_revoke",
    }[to_status]
    audit_log_record(
        actor=actor, action=action, target=entitlement, detail={**detail, "cause": cause}
    )
