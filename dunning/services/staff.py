"""What staff do with a case in the triage queue. Each action is a service and is audited.

Sales work cases (`dunning.work_dunningcase`): retry now, send a fresh link, pause and resume,
change the policy, assign, add a note. Only Finance (`dunning.settle_dunningcase`) marks a case
paid by bank transfer or writes it off: both are statements about money.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from checkout.models import Notification
from checkout.services.accounting import order_payment_record
from config.audit import audit_log_record
from dunning.models import (
    ACTIVE_STATUSES,
    DunningAttempt,
    DunningCase,
    DunningCaseNote,
    DunningPolicy,
)
from dunning.selectors import case_amount_owed
from dunning.services.attempts import attempt_create, dunning_attempt_charge
from dunning.services.cases import dunning_case_settle_from_order
from dunning.services.messages import dunning_message_send
from dunning.services.plan import case_card, case_plan, retry_refusal
from dunning.services.transitions import (
    CaseClosed,
    dunning_case_note_event,
    dunning_case_transition,
)
from payments.models import Payment
from payments.services import payment_prepare, payment_transition

WORK = "dunning.work_dunningcase"
SETTLE = "dunning.settle_dunningcase"
_S = DunningCase.Status


class ActionRefused(Exception):
    """The action cannot be done now; the message says why, for staff."""


def _require(actor: Any, permission: str) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm(permission):
        raise PermissionDenied(f"{permission} is needed")


def _locked_active(case_id: int) -> DunningCase:
    case = (
        DunningCase.objects.select_for_update(of=("self",))
        .select_related("policy", "order__offer", "order__lead")
        .get(pk=case_id)
    )
    if case.status not in ACTIVE_STATUSES:
        raise CaseClosed(f"The case is {case.get_status_display().lower()}; nothing to do.")
    return case


def _audit(actor: Any, action: str, case: DunningCase, **detail: Any) -> None:
    audit_log_record(actor=actor, action=f"dunning.{action}", target=case, detail=detail)


def dunning_case_retry_now(
    *, case_id: int, actor: Any, now: datetime | None = None
) -> DunningAttempt:
    """Charge the saved card now, outside the policy's schedule. Refused for a hard decline of
    the same card (and says why), while paused, within two minutes of the last attempt, or
    over the per-card cap."""
    _require(actor, WORK)
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked_active(case_id)
        if case.paused_at is not None:
            raise ActionRefused("The case is paused: resume it first.")
        customer, card = case_card(case)
        refusal = retry_refusal(case=case, card=card, now=now, by_staff=True)
        if refusal is None and customer is None:
            refusal = "There is no saved card to retry. Send the buyer a link."
        attempt = None
        if refusal is None:
            recent = case.attempts.filter(created_at__gte=now - timedelta(minutes=2))
            pending = case.attempts.filter(status=DunningAttempt.Status.PENDING)
            if recent.exists() or pending.exists():
                raise ActionRefused("A retry was just made; wait for its answer.")
            attempt = attempt_create(
                case=case, step=None, customer=customer, card=card, now=now, requested_by=actor
            )
            _audit(actor, "case_retry_now", case, attempt=attempt.number)
        else:
            # Kept (not rolled back with the refusal): staff see who tried and why it was refused.
            dunning_case_note_event(
                case=case, cause="retry_now_refused", actor=actor, detail={"reason": refusal}
            )
            _audit(actor, "case_retry_refused", case, reason=refusal)
    if attempt is None:
        raise ActionRefused(refusal)
    return dunning_attempt_charge(attempt_id=attempt.pk, now=now)


def dunning_case_link_send(*, case_id: int, actor: Any, now: datetime | None = None):
    """Email the buyer a fresh payment link now (quiet hours do not apply to staff)."""
    _require(actor, WORK)
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked_active(case_id)
        notification = dunning_message_send(
            case=case,
            template_key="fresh_link",
            channel=Notification.Channel.EMAIL,
            key=f"dunning:case:{case.pk}:staff_link:{case.links.count()}",
            now=now,
            actor=actor,
        )
        _audit(
            actor, "case_link_sent", case, notification=notification.pk if notification else None
        )
    return notification


def dunning_case_pause(*, case_id: int, actor: Any, reason: str = "") -> DunningCase:
    _require(actor, WORK)
    with transaction.atomic():
        case = _locked_active(case_id)
        if case.paused_at is None:
            case.paused_at = timezone.now()
            case.pause_reason = (reason or "Paused by staff.")[:200]
            case.next_action_at = None
            case.save(update_fields=["paused_at", "pause_reason", "next_action_at", "updated_at"])
            dunning_case_note_event(
                case=case, cause="paused", actor=actor, detail={"reason": reason}
            )
            _audit(actor, "case_pause", case, reason=reason)
    return case


def dunning_case_resume(*, case_id: int, actor: Any, now: datetime | None = None) -> DunningCase:
    """Carry on from the step the case was paused at (a step whose time has passed runs at the
    next allowed time)."""
    _require(actor, WORK)
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked_active(case_id)
        if case.paused_at is not None:
            case.paused_at, case.pause_reason = None, ""
            case.save(update_fields=["paused_at", "pause_reason", "updated_at"])
            case = case_plan(
                case=case, index=case.next_step, after=now, cause="resumed", actor=actor
            )
            _audit(actor, "case_resume", case)
    return case


def dunning_case_policy_change(
    *, case_id: int, policy_id: int, actor: Any, now: datetime | None = None
) -> DunningCase:
    """Follow the case with another policy, from its first step not yet due."""
    _require(actor, WORK)
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked_active(case_id)
        policy = DunningPolicy.objects.get(pk=policy_id)
        old = case.policy_id
        case.policy = policy
        case.save(update_fields=["policy", "updated_at"])
        steps = list(policy.steps.order_by("position"))
        index = next(
            (n for n, step in enumerate(steps) if case.failed_at + step.offset >= now), len(steps)
        )
        case = case_plan(case=case, index=index, after=now, cause="policy_changed", actor=actor)
        dunning_case_note_event(
            case=case, cause="policy_changed", actor=actor, detail={"from": old, "to": policy.pk}
        )
        _audit(actor, "case_policy_change", case, old=old, new=policy.pk)
    return case


def dunning_case_assign(*, case_id: int, owner: Any, actor: Any) -> DunningCase:
    """Give the case to a Sales owner (None: back to the shared Sales queue)."""
    _require(actor, WORK)
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=case_id)
        old = case.owner_id
        case.owner = owner
        case.save(update_fields=["owner", "updated_at"])
        dunning_case_note_event(
            case=case,
            cause="assigned",
            actor=actor,
            detail={"from": old, "to": owner.pk if owner else None},
        )
        _audit(actor, "case_assign", case, old=old, new=owner.pk if owner else None)
    return case


def dunning_case_note_add(*, case_id: int, actor: Any, body: str) -> DunningCaseNote:
    _require(actor, WORK)
    body = (body or "").strip()
    if not body:
        raise ActionRefused("Write the note first.")
    with transaction.atomic():
        case = DunningCase.objects.select_for_update().get(pk=case_id)
        note = DunningCaseNote.objects.create(case=case, author=actor, body=body[:5000])
        _audit(actor, "case_note", case, note=note.pk)
    return note


def dunning_case_mark_paid(
    *,
    case_id: int,
    actor: Any,
    reference: str,
    amount: int | None = None,
    now: datetime | None = None,
) -> DunningCase:
    """Finance: the buyer paid by bank transfer. The money is recorded as a payment of the
    order (no PaymentIntent; the bank reference is kept), so checkout accounts it and grants
    access like any other payment; the case closes as recovered (channel transfer)."""
    _require(actor, SETTLE)
    now = now or timezone.now()
    reference = (reference or "").strip()
    if not reference:
        raise ActionRefused("Enter the bank transfer's reference.")
    with transaction.atomic():
        case = _locked_active_or_exhausted(case_id)
        owed = case_amount_owed(order=case.order, cause=case.cause)
        amount = owed if amount is None else int(amount)
        if amount <= 0:
            raise ActionRefused("Nothing is owed on this case.")
        payment = payment_prepare(
            idempotency_key=f"dunning:case:{case.pk}:transfer:{reference[:100]}",
            amount=amount,
            currency=case.currency,
            customer=case.customer,
            payment_method_id="",
            attempt_kind=Payment.AttemptKind.MANUAL,
            order_id=case.order_id,
            metadata={
                "dunning_case": str(case.pk),
                "dunning_channel": DunningCase.Channel.TRANSFER,
                "bank_reference": reference[:200],
            },
        )
        payment_transition(
            payment_id=payment.pk,
            to_status=Payment.Status.SUCCEEDED,
            cause="bank_transfer",
            actor=actor,
            detail={"reference": reference[:200]},
            fields={"amount_received": amount},
        )
        order_payment_record(payment_id=payment.pk, cause="bank_transfer")
        if not dunning_case_settle_from_order(
            case=case, cause="marked_paid_by_transfer", now=now, actor=actor
        ):
            dunning_case_note_event(
                case=case,
                cause="partial_transfer",
                actor=actor,
                detail={"amount": amount, "still_owed": owed - amount},
            )
        _audit(actor, "case_mark_paid", case, reference=reference, amount=amount)
        case.refresh_from_db()
    return case


def _locked_active_or_exhausted(case_id: int) -> DunningCase:
    case = (
        DunningCase.objects.select_for_update(of=("self",)).select_related("order").get(pk=case_id)
    )
    if case.status not in ACTIVE_STATUSES | {_S.EXHAUSTED}:
        raise CaseClosed(f"The case is {case.get_status_display().lower()}; nothing to do.")
    return case


def dunning_case_write_off(*, case_id: int, actor: Any, reason: str) -> DunningCase:
    """Finance: stop collecting. The case ends exhausted (cause written_off); the order is
    left as it is."""
    _require(actor, SETTLE)
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the amount is written off.")
    with transaction.atomic():
        case = _locked_active(case_id)
        case, _ = dunning_case_transition(
            case_id=case.pk,
            to_status=_S.EXHAUSTED,
            cause="written_off",
            actor=actor,
            detail={"reason": reason[:500]},
        )
        _audit(actor, "case_write_off", case, reason=reason, amount=case.amount)
    return case
