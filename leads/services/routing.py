"""Who owns a lead: routing rules (round robin, load balanced, by country or segment),
out-of-office delegates, and manual assignment."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from config.audit import audit_log_record
from leads.models import Assignment, Lead, LeadStatus, OutOfOffice, RoutingRule, SalesOwner
from leads.selectors import OPEN_STATUSES, ROUTING_OWNER_FIELDS, sales_owners_eligible, sales_users
from leads.services.sla_clock import SLA_CLOCK_FIELDS, lead_sla_restart

logger = logging.getLogger(__name__)


class AssignmentRefused(ValueError):
    pass


@dataclass(frozen=True)
class RoutingChoice:
    owner: SalesOwner
    rule: RoutingRule | None
    reason: str


def _absent_now(now: datetime) -> Exists:
    return Exists(
        OutOfOffice.objects.filter(owner=OuterRef("pk"), starts_at__lte=now, ends_at__gt=now)
    )


def _members_now(rule: RoutingRule, now: datetime) -> list[SalesOwner]:
    """The rule's members who may hold leads, each marked `.away` when out of office now."""
    return list(
        sales_owners_eligible()
        .filter(routing_rules=rule)
        .annotate(away=_absent_now(now))
        .only(*ROUTING_OWNER_FIELDS)
        .order_by("pk")
    )


def _stand_ins(members: list[SalesOwner], now: datetime) -> dict[int, tuple[SalesOwner, str]]:
    """Who takes the leads of each member: themselves, or the delegate named for their absence
    when the delegate may hold leads and is not away too. Absent members without a usable
    delegate are left out. One extra query, and only when someone is away."""
    chosen = {m.pk: (m, "") for m in members if not m.away}
    away = [m for m in members if m.away]
    if not away:
        return chosen
    absences = OutOfOffice.objects.filter(
        owner__in=away, starts_at__lte=now, ends_at__gt=now, delegate__isnull=False
    ).values_list("owner_id", "delegate_id")
    delegate_of: dict[int, int] = {}
    for owner_id, delegate_id in absences:
        delegate_of.setdefault(owner_id, delegate_id)
    delegates = {
        d.pk: d
        for d in sales_owners_eligible()
        .filter(pk__in=set(delegate_of.values()))
        .annotate(away=_absent_now(now))
        if not d.away
    }
    for member in away:
        delegate = delegates.get(delegate_of.get(member.pk))
        if delegate is not None:
            chosen[member.pk] = (delegate, f" (delegate for {member}, who is out of office)")
    return chosen


def _rule_matches(rule: RoutingRule, lead: Lead) -> bool:
    if rule.countries and lead.country not in {c.upper() for c in rule.countries}:
        return False
    return not (rule.segment and rule.segment != lead.segment)


def _rule_take_turn(rule: RoutingRule) -> int:
    """Count one more lead on `rule` and return the count before it. The UPDATE also locks
    the rule until commit, so concurrent captures take turns one after another."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_routingrule SET turns = turns + 1 WHERE id = %s RETURNING turns",
            [rule.pk],
        )
        return int(cursor.fetchone()[0]) - 1


def _pick_round_robin(
    rule: RoutingRule, members: list[SalesOwner], stand_ins: dict, exclude: set[int]
) -> RoutingChoice | None:
    start = _rule_take_turn(rule)
    for offset in range(len(members)):
        member = members[(start + offset) % len(members)]
        owner, note = stand_ins.get(member.pk, (None, ""))
        if owner is None or owner.user_id in exclude:
            continue
        return RoutingChoice(owner, rule, f"Round robin in rule “{rule.name}”{note}")
    return None


def _open_loads(owners: list[SalesOwner]) -> dict[int, int]:
    rows = (
        Lead.objects.filter(owner_id__in=[o.user_id for o in owners], status__in=OPEN_STATUSES)
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    return {row["owner_id"]: row["n"] for row in rows}


def _pick_load_balanced(
    rule: RoutingRule, members: list[SalesOwner], stand_ins: dict, exclude: set[int]
) -> RoutingChoice | None:
    candidates: dict[int, tuple[SalesOwner, str]] = {}
    for member in members:
        owner, note = stand_ins.get(member.pk, (None, ""))
        if owner is not None and owner.user_id not in exclude:
            candidates.setdefault(owner.pk, (owner, note))
    if not candidates:
        return None
    # Counted after taking the rule's lock, so the loads include every lead the previous
    # holder assigned: capacity is exact even under concurrent captures.
    _rule_take_turn(rule)
    loads = _open_loads([owner for owner, _ in candidates.values()])
    best = None
    for owner, note in candidates.values():
        load = loads.get(owner.user_id, 0)
        if load >= owner.capacity:
            continue
        key = (load / owner.capacity, load, owner.pk)
        if best is None or key < best[0]:
            best = (key, owner, note, load)
    if best is None:
        return None
    _, owner, note, load = best
    return RoutingChoice(
        owner,
        rule,
        f"Least loaded in rule “{rule.name}”: {load} of {owner.capacity} open leads{note}",
    )


def lead_route_choose(
    *, lead: Lead, now: datetime | None = None, exclude_user_ids: set[int] | None = None
) -> RoutingChoice | None:
    """The owner the routing rules give `lead` now, or None. Takes the matching rule's lock
    (lock order everywhere: the lead first, then the rule), so call it inside the caller's
    transaction."""
    now = now or timezone.now()
    exclude = exclude_user_ids or set()
    for rule in RoutingRule.objects.filter(is_active=True).order_by("priority", "pk"):
        if not _rule_matches(rule, lead):
            continue
        members = _members_now(rule, now)
        if not members:
            continue
        stand_ins = _stand_ins(members, now)
        if rule.strategy == RoutingRule.Strategy.LOAD_BALANCED:
            choice = _pick_load_balanced(rule, members, stand_ins, exclude)
        else:
            choice = _pick_round_robin(rule, members, stand_ins, exclude)
        if choice is not None:
            return choice
    return None


def _assign(
    *, lead: Lead, owner_user, rule: RoutingRule | None, reason: str, actor: Any, now: datetime
) -> Assignment:
    lead.owner = owner_user
    return Assignment.objects.create(
        lead=lead,
        owner=owner_user,
        assigned_at=now,
        assigned_by=actor if getattr(actor, "pk", None) else None,
        rule=rule,
        reason=reason[:300],
    )


def lead_route(
    *,
    lead: Lead,
    now: datetime | None = None,
    exclude_user_ids: set[int] | None = None,
    reason_prefix: str = "",
) -> Assignment | None:
    """Give `lead` an owner by the routing rules (the caller holds the lead's lock and saves
    the lead). None when no rule has anyone available: the lead waits unassigned."""
    now = now or timezone.now()
    choice = lead_route_choose(lead=lead, now=now, exclude_user_ids=exclude_user_ids)
    if choice is None:
        logger.info("no owner available for lead %s", lead.pk)
        return None
    return _assign(
        lead=lead,
        owner_user=choice.owner.user,
        rule=choice.rule,
        reason=reason_prefix + choice.reason,
        actor=None,
        now=now,
    )


def lead_assign(
    *, lead: Lead, owner, actor: Any, reason: str = "", now: datetime | None = None
) -> Lead:
    """Staff give `lead` to `owner` (a Sales staff user). While the lead is new and nobody has
    logged a first contact, the new owner gets a fresh first-response clock."""
    if not sales_users().filter(pk=owner.pk).exists():
        raise AssignmentRefused(f"{owner} is not an active Sales staff member.")
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        # Under the lock: an assignment that waited for the sweeper's must be dated after it.
        now = now or timezone.now()
        if locked.status == LeadStatus.ERASED:
            raise AssignmentRefused("An erased lead cannot be assigned.")
        if locked.owner_id == owner.pk:
            return locked
        previous = locked.owner_id
        _assign(
            lead=locked,
            owner_user=owner,
            rule=None,
            reason=reason or f"Assigned by {actor}",
            actor=actor,
            now=now,
        )
        restarted = lead_sla_restart(lead=locked, now=now)
        clock_fields = SLA_CLOCK_FIELDS if restarted else []
        locked.save(update_fields=["owner", *clock_fields, "updated_at"])
        audit_log_record(
            actor=actor,
            action="leads.lead_assigned",
            target=locked,
            detail={"from_user": previous, "to_user": owner.pk, "sla_restarted": restarted},
        )
    lead.refresh_from_db()
    return lead
