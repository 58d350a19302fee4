"""The access an order grants: granted once at the moment of payment, suspended on a dispute,
restored when the dispute is won, revoked on a full refund or a lost dispute.

Every move goes through `entitlement_transition` (ENTITLEMENT_TRANSITIONS, the shared engine):
it locks the row, records an EntitlementEvent whatever the outcome (a refused one too, e.g.
suspending revoked access), and an applied move leaves an audit entry. Each service is
idempotent: asking for the state the entitlement is already in changes nothing and records
nothing.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import ENTITLEMENT_MACHINE, Entitlement, Order
from config.audit import audit_log_record
from config.transitions import Outcome, status_event_created, transition
from payments.models import Payment

logger = logging.getLogger(__name__)

_S = Entitlement.Status

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
    detail = {"order": entitlement.order_id, "payment": getattr(payment, "pk", None)}
    status_event_created(
        ENTITLEMENT_MACHINE,
        instance=entitlement,
        cause="payment",
        actor=actor,
        detail=detail,
        history={"payment": payment},
    )
    audit_log_record(
        actor=actor,
        action="entitlement_grant",
        target=entitlement,
        detail={**detail, "cause": "payment"},
    )
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
        entitlement, _ = entitlement_transition(
            entitlement=entitlement, to_status=to_status, cause=cause, payment=payment, actor=actor
        )
    return entitlement


_AUDIT_ACTION = {
    _S.ACTIVE: "entitlement_restore",
    _S.SUSPENDED: "entitlement_suspend",
    _S.REVOKED: "entitlement_revoke",
}


def entitlement_transition(
    *,
    entitlement: Entitlement,
    to_status: str,
    cause: str,
    payment: Payment | None = None,
    actor: Any = None,
) -> tuple[Entitlement, str]:
    """Move a locked entitlement by ENTITLEMENT_TRANSITIONS; returns it and the outcome.

    Stamps when access was suspended or revoked (a restore clears the suspension), records an
    EntitlementEvent, and an audit entry for an applied move.
    """

    def stamps(row: Entitlement, from_status: str) -> dict[str, Any]:
        now = timezone.now()
        if to_status == _S.SUSPENDED:
            return {"suspended_at": now}
        if to_status == _S.REVOKED:
            return {"revoked_at": now}
        return {"suspended_at": None}

    detail = {"order": entitlement.order_id, "payment": getattr(payment, "pk", None)}
    entitlement, outcome = transition(
        ENTITLEMENT_MACHINE,
        instance=entitlement,
        to_status=to_status,
        cause=cause,
        actor=actor,
        detail=detail,
        on_apply=stamps,
        history={"payment": payment},
    )
    if outcome == Outcome.APPLIED:
        audit_log_record(
            actor=actor,
            action=_AUDIT_ACTION[to_status],
            target=entitlement,
            detail={**detail, "cause": cause},
        )
    return entitlement, outcome
