"""The one shape of a status change (STYLE.md, State).

Every model with a status describes its machine once, beside the model: the allowed moves (a
dict of status to the statuses that may follow it) and its history model (a `StatusEvent`).
Its app's `<model>_transition(...)` service calls `transition`, which:

1. locks the row (`select_for_update`), or uses the row its caller already locked;
2. decides the outcome: `stale` (an optional rule, e.g. an event older than the newest one
   applied), `unchanged`, `applied` when the table allows the move, else `refused`;
3. saves an applied move (and `fields`, which are also set on an unchanged one);
4. writes one history row, whatever the outcome, so a refusal is on record too (a row created
   in its first status gets its first row from `status_event_created`);
5. runs the side effects of an applied move only after the transaction commits.

A refused or stale move changes nothing and is logged; it never raises. The caller decides
what a refusal means to its user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from config.models import StatusEvent

logger = logging.getLogger(__name__)

Outcome = StatusEvent.Outcome


@dataclass(frozen=True)
class StatusMachine:
    """A model's status machine: its allowed moves and where its history goes."""

    model: type[models.Model]
    transitions: Mapping[str, Collection[str]]
    history: type[StatusEvent]
    # The history model's foreign key to `model`.
    subject: str
    status_field: str = "status"

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.transitions.get(from_status, ())


def transition(
    machine: StatusMachine,
    *,
    to_status: str,
    cause: str,
    pk: Any = None,
    instance: models.Model | None = None,
    actor: Any = None,
    detail: dict | None = None,
    fields: dict[str, Any] | None = None,
    on_apply: Callable[[Any, str], dict[str, Any]] | None = None,
    after_commit: Callable[[Any, str], None] | None = None,
    is_stale: Callable[[Any], bool] | None = None,
    history: dict[str, Any] | None = None,
    save: bool = True,
) -> tuple[Any, str]:
    """Move a row to `to_status` if `machine` allows it, and record the attempt.

    Give `pk` to have the row locked here, or `instance` when the caller already holds its lock
    (then `save=False` leaves saving to the caller, who is changing other columns too).
    `fields` are set with an applied or unchanged move; `on_apply(row, from_status)` returns
    more fields for an applied move, computed under the lock (timestamps). `after_commit(row,
    from_status)` runs once the transaction commits, for an applied move only. `history` holds
    the history model's own extra columns. Returns the row and the outcome.
    """
    with transaction.atomic():
        if instance is None:
            instance = machine.model.objects.select_for_update().get(pk=pk)
        from_status = getattr(instance, machine.status_field)
        if is_stale is not None and is_stale(instance):
            outcome = Outcome.STALE
        elif to_status == from_status:
            outcome = Outcome.UNCHANGED
        elif machine.allows(from_status, to_status):
            outcome = Outcome.APPLIED
        else:
            outcome = Outcome.REFUSED

        if outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
            update = dict(fields or {})
            if outcome == Outcome.APPLIED:
                update[machine.status_field] = to_status
                if on_apply is not None:
                    update.update(on_apply(instance, from_status))
            for name, value in update.items():
                setattr(instance, name, value)
            if update and save:
                instance.save(
                    update_fields=list(dict.fromkeys([*update, *_auto_now_fields(machine.model)]))
                )
        else:
            logger.info(
                "%s %s: %s -> %s %s (cause %s)",
                machine.model._meta.label, instance.pk, from_status, to_status, outcome, cause,
            )  # fmt: skip

        status_event_record(
            machine,
            instance=instance,
            from_status=from_status,
            to_status=to_status,
            outcome=outcome,
            cause=cause,
            actor=actor,
            detail=detail,
            history=history,
        )
        if outcome == Outcome.APPLIED and after_commit is not None:
            row = instance
            transaction.on_commit(lambda: after_commit(row, from_status))
    return instance, outcome


def status_event_record(
    machine: StatusMachine,
    *,
    instance: models.Model,
    cause: str,
    from_status: str | None = None,
    to_status: str | None = None,
    outcome: str = Outcome.NOTED,
    actor: Any = None,
    detail: dict | None = None,
    history: dict[str, Any] | None = None,
) -> StatusEvent:
    """Write one history row. Without a move it notes something that happened to the row
    without changing its status (a review flag, a skipped retry), at its current status."""
    current = getattr(instance, machine.status_field)
    return machine.history.objects.create(
        **{machine.subject: instance},
        from_status=current if from_status is None else from_status,
        to_status=current if to_status is None else to_status,
        outcome=outcome,
        cause=cause[:100],
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail or {},
        **(history or {}),
    )


def status_event_created(
    machine: StatusMachine,
    *,
    instance: models.Model,
    cause: str,
    actor: Any = None,
    detail: dict | None = None,
    history: dict[str, Any] | None = None,
) -> StatusEvent:
    """The first history row of a row just created in its first status (from nothing)."""
    return status_event_record(
        machine,
        instance=instance,
        from_status="",
        outcome=Outcome.APPLIED,
        cause=cause,
        actor=actor,
        detail=detail,
        history=history,
    )


def _auto_now_fields(model: type[models.Model]) -> list[str]:
    return [
        field.name for field in model._meta.concrete_fields if getattr(field, "auto_now", False)
    ]
