"""`manage.py seed_demo --scale N`: a synthetic year of lead-to-cash history, N payments.

What it makes, in one transaction, for the 12 calendar months that end with this one:
- orders of three one-time offers in EUR, USD and JPY, priced by checkout's own `price_quote`;
- one lead per order plus half as many leads that never bought (no consent records: see below);
- N payments: the checkout attempt of every order (about 82 % succeed), and for a failed one
  the dunning case that followed, with its retry (a soft decline, recovered 60 % of the time) or
  its payment link (a card that needs the buyer, 40 %); hard declines are written off;
- refunds (about 5 % of paid payments, half of them partial) and disputes (about 0.6 %);
- a receipt for every paid payment, numbered without gaps in the order they were paid, and the
  payment-confirmed email that carried it (a few bounced or failed);
- payment CSAT answers for about a fifth of the paid orders.

How, and why so:
- Rows go in with Postgres COPY (psycopg's `cursor.copy`), table by table, with ids reserved
  from each table's own sequence first so rows can point at each other. bulk_create cannot set
  `auto_now_add` columns (`created_at`), and a year of history needs them in the past.
- Receipts are inserted once and never updated, as the immutable-document trigger requires, in
  the state `receipt_issue` leaves them: `issued`, with their snapshot (built by
  receipts.services.snapshot for one real payment per offer and country, then given each
  payment's buyer, number and moment). Their PDFs are made by the receipts sweeper in the
  background when a worker runs, as for any receipt whose PDF is still to be made. Each year's
  `DocumentCounter` ends at the last number inserted; an existing counter is moved up one step
  at a time (its trigger allows nothing else).
- Refunds get no credit notes here: the receipts sweeper issues them (numbered by the app).
- Consent: seeded leads carry no consent records, so every hash chain stays valid (an empty
  chain verifies) and no one appears to have agreed to anything they did not.
- Idempotent: a second run finds the seeded payments (idempotency keys `seed-scale:…`) and
  changes nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

SEED_PREFIX = "seed-scale:"
SEED_EMAIL_DOMAIN = "seed.example.com"

# (offer slug, billing countries): one offer per currency.
SCALE_OFFERS = [
    ("pricing-masterclass", ["DE", "FR", "IE", "NL"]),  # EUR
    ("growth-webinar", ["US"]),  # USD
    ("tokyo-seminar", ["JP"]),  # JPY
]
GROWTH_WEBINAR = {
    "name": "Growth webinar (recording)",
    "description": "A two-hour recorded webinar on growing a service business.",
    "price_amount": 9_900,
    "currency": "USD",
    "billing_type": "one_time",
    "tax_mode": "exclusive",
    "access_name": "Growth webinar recording",
    "access_url": "https://learn.example.com/growth",
}

FIRST_ATTEMPT_SUCCESS = 0.82
SOFT_DECLINES = ["insufficient_funds", "try_again_later", "processing_error"]
ACTION_DECLINES = ["expired_card", "authentication_required", "incorrect_cvc"]
HARD_DECLINES = ["stolen_card", "do_not_honor", "fraudulent"]
REFUND_SHARE = 0.05
DISPUTE_SHARE = 0.006
CSAT_SHARE = 0.2
LEADS_WITHOUT_ORDERS = 0.5
BATCH = 20_000


class ScaleSeedRefused(Exception):
    """The database cannot take the seed as asked (bad N)."""


@dataclass
class _Tables:
    """Rows per model, as dicts of field name → value, in insertion order."""

    rows: dict[type[models.Model], list[dict]] = field(default_factory=dict)

    def add(self, model: type[models.Model], row: dict) -> None:
        self.rows.setdefault(model, []).append(row)


def _months_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    year, month = local.year, local.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _reserve_ids(model: type[models.Model], count: int) -> int:
    """The first of `count` consecutive ids taken from the table's own sequence (the table is
    locked by the caller, so nothing else takes ids meanwhile)."""
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s))", [table, pk])
        first = cursor.fetchone()[0]
        if count > 1:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)", [table, pk, first + count - 1]
            )
    return first


def _copy(model: type[models.Model], rows: list[dict], progress: Callable[[str], None]) -> None:
    """COPY `rows` into the model's table. Columns a row leaves out take the field's default
    (evaluated once, so never for the id or a unique column: each row gives those)."""
    if not rows:
        return
    fields = list(model._meta.concrete_fields)
    missing = object()
    defaults = {}
    for f in fields:
        if f.primary_key or (f.unique and not f.null):
            defaults[f.name] = missing  # each row gives it
        elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            defaults[f.name] = timezone.now()
        else:
            # The field's own default ("" for a blank text field, None when there is none).
            defaults[f.name] = f.get_default()
    json_fields = {f.name for f in fields if isinstance(f, models.JSONField)}
    keys = [(f.name, f.attname, defaults[f.name], f.name in json_fields) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for n, row in enumerate(rows, 1):
            values = []
            for name, attname, default, is_json in keys:
                value = row.get(name, missing)
                if value is missing:
                    value = row.get(attname, default)
                if value is missing:
                    raise ValueError(f"{model.__name__}.{name}: every row must give it")
                if is_json and value is not None:
                    value = Jsonb(value)
                values.append(value)
            copy.write_row(values)
            if n % (BATCH * 5) == 0:
                progress(f"  {model._meta.db_table}: {n:,} of {len(rows):,}")
    progress(f"  {model._meta.db_table}: {len(rows):,} rows in {time.monotonic() - started:.1f} s")


def scale_seed(*, n: int, stdout, seed: int = 16, now: datetime | None = None) -> dict[str, int]:
    """Seed N payments of history (see the module docstring). Returns rows per table."""
    from checkout.models import Notification, Offer, Order, PaymentCsat
    from checkout.services.pricing import price_quote
    from dunning.models import DunningAttempt, DunningCase
    from dunning.services.policies import dunning_policy_default_ensure
    from leads.models import Lead
    from payments.models import Customer, Dispute, Payment, Refund
    from receipts.models import DocumentCounter, Receipt

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ScaleSeedRefused("--scale takes a whole number of payments, 1 or more.")
    if n > 20_000_000:
        raise ScaleSeedRefused("--scale is at most 20,000,000 payments.")

    def say(message: str) -> None:
        stdout.write(message)
        if hasattr(stdout, "flush"):
            stdout.flush()

    if Payment.objects.filter(idempotency_key__startswith=SEED_PREFIX).exists():
        kept = Payment.objects.filter(idempotency_key__startswith=SEED_PREFIX).count()
        say(f"kept the scale seed already here ({kept:,} payments); use a fresh database to "
            "seed another")  # fmt: skip
        return {}

    rng = random.Random(seed)
    now = now or timezone.now()
    start = _months_start(now)
    span = (now - timedelta(hours=2) - start).total_seconds()
    receipts_zone = ZoneInfo(settings.RECEIPTS_TIME_ZONE)
    P, OS, D = Payment.Status, Order.Status, DunningCase.Status
    began = time.monotonic()

    Offer.objects.get_or_create(slug="growth-webinar", defaults=GROWTH_WEBINAR)
    offers = {o.slug: o for o in Offer.objects.filter(slug__in=[s for s, _ in SCALE_OFFERS])}
    missing = {s for s, _ in SCALE_OFFERS} - set(offers)
    if missing:
        raise ScaleSeedRefused(f"demo offers missing: {', '.join(sorted(missing))}")
    quotes = {
        (slug, country): price_quote(offer=offers[slug], billing_country=country)
        for slug, countries in SCALE_OFFERS
        for country in countries
    }
    combos = list(quotes)
    policy = dunning_policy_default_ensure()

    with transaction.atomic():
        # Nothing else writes these tables while their ids are reserved and filled.
        tables = [Lead, Order, Customer, Payment, Refund, Dispute, DunningCase, DunningAttempt,
                  Notification, Receipt, PaymentCsat]  # fmt: skip
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )

        say(f"planning {n:,} payments from {start:%Y-%m} to {now:%Y-%m} ...")
        plan = _plan(n=n, rng=rng)
        orders_count = len(plan)
        leads_count = orders_count + int(orders_count * LEADS_WITHOUT_ORDERS)
        payments_count = sum(len(p.payments) for p in plan)
        assert payments_count == n
        customers_count = sum(1 for p in plan if p.customer)
        cases_count = sum(1 for p in plan if p.case)
        attempts_count = sum(1 for p in plan if p.case and p.case_channel == "retry")

        lead_id = _reserve_ids(Lead, leads_count)
        order_id = _reserve_ids(Order, orders_count)
        customer_id = _reserve_ids(Customer, max(customers_count, 1))
        payment_id = _reserve_ids(Payment, n)
        case_id = _reserve_ids(DunningCase, max(cases_count, 1))
        attempt_id = _reserve_ids(DunningAttempt, max(attempts_count, 1))

        t = _Tables()
        paid_payments: list[dict] = []
        order_by_id: dict[int, dict] = {}
        for i, item in enumerate(plan):
            slug, country = combos[rng.randrange(len(combos))]
            quote = quotes[(slug, country)]
            offer = offers[slug]
            created = start + timedelta(seconds=rng.random() * span)
            oid = order_id + i
            email = f"buyer{oid}@{SEED_EMAIL_DOMAIN}"
            name = f"Buyer {oid}"
            lid = lead_id + i
            lead_created = created - timedelta(days=rng.random() * 20)
            t.add(Lead, {"id": lid, "email": email, "name": name, "country": country,
                         "status": "qualified", "created_at": lead_created,
                         "first_contacted_at": created - timedelta(days=1), "is_ready": True,
                         "submissions": 1})  # fmt: skip
            cid = None
            if item.customer:
                cid = customer_id
                customer_id += 1
                t.add(Customer, {"id": cid, "email": email, "name": name,
                                 "stripe_customer_id": f"cus_seed{cid}",
                                 "payment_method_id": f"pm_seed{cid}", "card_brand": "visa",
                                 "card_last4": "4242", "card_exp_month": 12,
                                 "card_exp_year": now.year + 2,
                                 "created_at": created, "updated_at": created})  # fmt: skip
            order = {
                "id": oid, "checkout_token": _uuid(rng), "reference": f"SC-{oid:09d}",
                "offer_id": offer.pk, "email": email, "name": name, "billing_country": country,
                "lines": quote.lines(offer=offer), "currency": quote.currency,
                "subtotal": quote.subtotal, "tax": quote.tax, "total": quote.total,
                "amount_due_now": quote.due_now, "created_at": created, "updated_at": created,
                "checkout_attempt": 1, "terms_accepted_at": created, "lead_id": lid,
                "customer_id": cid, "status": OS.FAILED, "amount_paid": 0,
                "amount_refunded": 0, "balance": quote.total,
            }  # fmt: skip
            order_by_id[oid] = order
            moment = created + timedelta(seconds=30)
            paid_row = None
            for k, outcome in enumerate(item.payments):
                pid = payment_id
                payment_id += 1
                kind = ("checkout", "retry", "manual")[k if k < 2 else 2]
                if k == 1 and item.case_channel == "link":
                    kind = "manual"
                if k > 0:
                    moment = moment + timedelta(hours=rng.uniform(20, 80))
                row = {
                    "id": pid, "order_id": oid, "customer_id": cid,
                    "idempotency_key": f"{SEED_PREFIX}{pid}",
                    "stripe_payment_intent_id": f"pi_seed{pid}",
                    "stripe_charge_id": f"ch_seed{pid}", "payment_method_id": f"pm_seed{pid}",
                    "amount": quote.due_now, "currency": quote.currency.lower(),
                    "attempt_kind": kind, "created_at": moment, "updated_at": moment,
                    "amount_received": 0, "status": P.FAILED,
                }  # fmt: skip
                if outcome == "succeeded":
                    row.update(status=P.SUCCEEDED, amount_received=quote.due_now,
                               succeeded_at=moment + timedelta(seconds=3))  # fmt: skip
                    paid_row = row
                else:
                    row.update(failure_code="card_declined", decline_code=item.decline_code,
                               failure_message="Your card was declined.")  # fmt: skip
                t.add(Payment, row)
                if k == 0 and outcome != "succeeded":
                    order["_failed_payment"] = row
                if k == 1 and item.case_channel == "retry":
                    order["_retry_payment"] = row
            if paid_row is not None:
                order.update(status=OS.PAID, amount_paid=quote.due_now, balance=0,
                             paid_at=paid_row["succeeded_at"])  # fmt: skip
                paid_payments.append(paid_row)
            if item.case:
                failed = order["_failed_payment"]
                recovered = paid_row is not None
                recent = now - failed["created_at"] < timedelta(days=14)
                status = D.RECOVERED if recovered else (D.ESCALATED if recent else D.EXHAUSTED)
                closed = (
                    paid_row["succeeded_at"]
                    if recovered
                    else (None if recent else failed["created_at"] + timedelta(days=14))
                )
                cid_case = case_id
                case_id += 1
                t.add(DunningCase, {
                    "id": cid_case, "order_id": oid, "cause": "checkout", "policy_id": policy.pk,
                    "status": status, "amount": quote.due_now, "currency": quote.currency,
                    "amount_recovered": quote.due_now if recovered else 0,
                    "recovered_channel": item.case_channel if recovered else "",
                    "failed_payment_id": failed["id"], "customer_id": cid,
                    "decline_code": item.decline_code, "failure_code": "card_declined",
                    "category": item.category,
                    "declined_payment_method_id": failed["payment_method_id"],
                    "failed_at": failed["created_at"], "opened_at": failed["created_at"],
                    "closed_at": closed, "recovered_at": closed if recovered else None,
                    "attempts_made": 1 if item.case_channel == "retry" else 0,
                    "next_action_at": None, "updated_at": closed or failed["created_at"],
                })  # fmt: skip
                if item.case_channel == "retry":
                    retry = order["_retry_payment"]
                    t.add(DunningAttempt, {
                        "id": attempt_id, "case_id": cid_case, "number": 1, "step": 0,
                        "payment_id": retry["id"],
                        "idempotency_key": f"{SEED_PREFIX}case:{cid_case}:attempt:1",
                        "customer_id": cid, "payment_method_id": f"pm_seed{cid}",
                        "amount": quote.due_now, "currency": quote.currency,
                        "status": "succeeded" if retry["status"] == P.SUCCEEDED else "failed",
                        "decline_code": retry.get("decline_code", ""),
                        "created_at": retry["created_at"],
                        "settled_at": retry["created_at"] + timedelta(seconds=3),
                    })  # fmt: skip
                    attempt_id += 1
            order.pop("_failed_payment", None)
            order.pop("_retry_payment", None)
            t.add(Order, order)
        for j in range(leads_count - orders_count):
            lid = lead_id + orders_count + j
            created = start + timedelta(seconds=rng.random() * span)
            t.add(Lead, {"id": lid, "email": f"lead{lid}@{SEED_EMAIL_DOMAIN}",
                         "name": f"Lead {lid}", "country": rng.choice(["DE", "US", "JP", "FR"]),
                         "created_at": created, "submissions": 1})  # fmt: skip

        _refunds_and_disputes(t, paid_payments, order_by_id, rng=rng, now=now)
        say(f"planned in {time.monotonic() - began:.1f} s; inserting ...")
        for model in (Lead, Order, Customer, Payment, Refund, Dispute, DunningCase,
                      DunningAttempt):  # fmt: skip
            _copy(model, t.rows.get(model, []), say)

        notifications = _notifications(paid_payments, order_by_id, rng=rng)
        _copy(Notification, notifications, say)
        receipts = _receipts(paid_payments, order_by_id, notifications, zone=receipts_zone,
                             say=say)  # fmt: skip
        _copy(Receipt, receipts, say)
        _counters_advance(DocumentCounter, receipts, series=settings.RECEIPTS_SERIES)
        csat = _csat(paid_payments, rng=rng, now=now)
        _copy(PaymentCsat, csat, say)

    counts = {model._meta.label: len(rows) for model, rows in t.rows.items()}
    counts.update({"checkout.Notification": len(notifications), "receipts.Receipt": len(receipts),
                   "checkout.PaymentCsat": len(csat)})  # fmt: skip
    say(f"seeded {n:,} payments in {time.monotonic() - began:.1f} s: "
        + ", ".join(f"{label} {count:,}" for label, count in sorted(counts.items())))  # fmt: skip
    return counts


@dataclass
class _OrderPlan:
    payments: list[str]  # "succeeded" / "failed", in order
    case: bool = False
    case_channel: str = ""  # retry | link | "" (written off)
    decline_code: str = ""
    category: str = ""
    customer: bool = False


def _plan(*, n: int, rng: random.Random) -> list[_OrderPlan]:
    """Orders and the outcome of each of their payments, until there are exactly n payments."""
    from dunning.declines import Category

    plan: list[_OrderPlan] = []
    left = n
    while left > 0:
        if left == 1 or rng.random() < FIRST_ATTEMPT_SUCCESS:
            plan.append(_OrderPlan(payments=["succeeded"]))
            left -= 1
            continue
        kind = rng.random()
        if kind < 0.6:
            code, category = rng.choice(SOFT_DECLINES), Category.SOFT
        elif kind < 0.85:
            code, category = rng.choice(ACTION_DECLINES), Category.CUSTOMER_ACTION
        else:
            code, category = rng.choice(HARD_DECLINES), Category.HARD
        item = _OrderPlan(payments=["failed"], case=True, decline_code=code, category=category,
                          customer=True)  # fmt: skip
        if category == Category.SOFT:
            item.case_channel = "retry"
            item.payments.append("succeeded" if rng.random() < 0.6 else "failed")
        elif category == Category.CUSTOMER_ACTION and rng.random() < 0.4:
            item.case_channel = "link"
            item.payments.append("succeeded")
        plan.append(item)
        left -= len(item.payments)
    return plan


def _uuid(rng: random.Random):
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _refunds_and_disputes(t, paid_payments, order_by_id, *, rng, now) -> None:
    from checkout.models import Order
    from payments.models import Dispute, Payment, Refund

    P, OS = Payment.Status, Order.Status
    refund_id = dispute_id = None
    refunds, disputes = [], []
    for payment in paid_payments:
        roll = rng.random()
        if roll < REFUND_SHARE:
            full = rng.random() < 0.5
            amount = payment["amount_received"] if full else max(payment["amount_received"] // 2, 1)
            if not full and amount >= payment["amount_received"]:
                continue
            moment = payment["succeeded_at"] + timedelta(days=rng.uniform(1, 12))
            if moment > now:
                continue
            refunds.append((payment, amount, full, moment))
        elif roll < REFUND_SHARE + DISPUTE_SHARE:
            moment = payment["succeeded_at"] + timedelta(days=rng.uniform(5, 40))
            if moment > now:
                continue
            disputes.append((payment, moment))
    if refunds:
        refund_id = _reserve_ids(Refund, len(refunds))
    for payment, amount, full, moment in refunds:
        t.add(Refund, {"id": refund_id, "payment_id": payment["id"],
                       "idempotency_key": f"{SEED_PREFIX}refund:{refund_id}",
                       "stripe_refund_id": f"re_seed{refund_id}", "amount": amount,
                       "currency": payment["currency"], "reason": "Asked for by the buyer",
                       "status": Refund.Status.SUCCEEDED, "created_at": moment,
                       "updated_at": moment})  # fmt: skip
        refund_id += 1
        payment["amount_refunded"] = amount
        payment["status"] = P.REFUNDED if full else P.PARTIALLY_REFUNDED
        payment["updated_at"] = moment
        order = order_by_id[payment["order_id"]]
        order["amount_refunded"] = amount
        if full:
            order.update(status=OS.REFUNDED, balance=0)
    if disputes:
        dispute_id = _reserve_ids(Dispute, len(disputes))
    for payment, moment in disputes:
        outcome = rng.random()
        if now - moment < timedelta(days=30) or outcome < 0.2:
            status, closed, stripe_status = Dispute.Status.OPEN, None, "needs_response"
            payment["status"] = P.DISPUTED
        elif outcome < 0.6:
            status, closed, stripe_status = Dispute.Status.WON, moment + timedelta(days=30), "won"
        else:
            status, closed, stripe_status = Dispute.Status.LOST, moment + timedelta(days=30), "lost"
            payment["status"] = P.DISPUTED
        t.add(Dispute, {"id": dispute_id, "payment_id": payment["id"],
                        "stripe_dispute_id": f"dp_seed{dispute_id}",
                        "amount": payment["amount_received"], "currency": payment["currency"],
                        "reason": "fraudulent", "stripe_status": stripe_status, "status": status,
                        "opened_at": moment, "closed_at": closed, "funds_withdrawn_at": moment,
                        "funds_reinstated_at": closed if status == Dispute.Status.WON else None,
                        "updated_at": closed or moment})  # fmt: skip
        dispute_id += 1


def _notifications(paid_payments, order_by_id, *, rng) -> list[dict]:
    """The payment-confirmed email of every paid payment: sent, a few bounced or failed."""
    from checkout.models import Notification

    N = Notification.Status
    first = _reserve_ids(Notification, max(len(paid_payments), 1))
    rows = []
    for i, payment in enumerate(paid_payments):
        order = order_by_id[payment["order_id"]]
        moment = payment["succeeded_at"] + timedelta(seconds=5)
        roll = rng.random()
        status = N.SENT if roll < 0.975 else (N.BOUNCED if roll < 0.99 else N.FAILED)
        nid = first + i
        rows.append({
            "id": nid, "key": f"{SEED_PREFIX}payment_confirmed:{payment['id']}",
            "kind": Notification.Kind.PAYMENT_CONFIRMED, "order_id": order["id"],
            "payment_id": payment["id"], "to_email": order["email"],
            "context": {"payment_amount": payment["amount_received"], "currency": order["currency"],
                        "amount_paid": payment["amount_received"], "balance": 0},
            "status": status, "attempts": 5 if status == N.FAILED else 1,
            "last_error": "SMTP 451: try again later" if status == N.FAILED else "",
            "subject": f"Payment received: your access to {order['lines'][0]['name']}",
            "created_at": moment, "sent_at": None if status == N.FAILED else moment,
            "message_id": f"<seed.{nid}@{SEED_EMAIL_DOMAIN}>",
            "bounced_at": moment + timedelta(minutes=2) if status == N.BOUNCED else None,
        })  # fmt: skip
    return rows


def _receipts(paid_payments, order_by_id, notifications, *, zone, say) -> list[dict]:
    """One receipt per paid payment, numbered per year in the order they were paid, each with
    the snapshot receipts.services.snapshot builds (one real build per offer and country)."""
    from payments.models import Payment
    from receipts.models import DocumentCounter, Receipt
    from receipts.services.snapshot import receipt_snapshot_build

    series = settings.RECEIPTS_SERIES
    carried = {n["payment_id"]: n["id"] for n in notifications if n["status"] != "failed"}
    prototypes: dict[tuple[int, str], dict] = {}
    ordered = sorted(paid_payments, key=lambda p: (p["succeeded_at"], p["id"]))
    counters = dict(
        DocumentCounter.objects.filter(series=series).values_list("year", "last_number")
    )
    first = _reserve_ids(Receipt, max(len(ordered), 1))
    rows = []
    for i, payment in enumerate(ordered):
        order = order_by_id[payment["order_id"]]
        key = (order["offer_id"], order["billing_country"])
        issued = payment["succeeded_at"] + timedelta(seconds=1)
        if key not in prototypes:
            prototypes[key] = receipt_snapshot_build(
                payment=Payment.objects.select_related("order__offer", "order__lead").get(
                    pk=payment["id"]
                ),
                now=issued,
            )
        proto = prototypes[key]
        local = issued.astimezone(zone)
        sequence = counters.get(local.year, 0) + 1
        counters[local.year] = sequence
        number = f"{series}-{local.year}-{sequence:06d}"
        snapshot = {
            **proto,
            "issued_at": issued.isoformat(),
            "issue_date": local.date().isoformat(),
            "year": local.year,
            "buyer": {**proto["buyer"], "name": order["name"], "email": order["email"]},
            "order": {**proto["order"], "reference": order["reference"]},
            "payment": {**proto["payment"], "stripe_reference": payment["stripe_payment_intent_id"],
                        "stripe_charge": payment["stripe_charge_id"],
                        "paid_at": payment["succeeded_at"].isoformat(),
                        "attempt_kind": payment["attempt_kind"]},
            "number": number,
        }  # fmt: skip
        rows.append({
            "id": first + i, "payment_id": payment["id"], "order_id": order["id"],
            "series": series, "year": local.year, "sequence": sequence, "number": number,
            "issued_at": issued, "snapshot": snapshot, "currency": snapshot["currency"],
            "net": snapshot["net"], "tax": snapshot["tax"], "total": snapshot["total"],
            "buyer_email": order["email"], "buyer_name": order["name"], "status": "issued",
            "delivered_by_id": carried.get(payment["id"]),
        })  # fmt: skip
    say(f"  receipts: {len(rows):,} numbered from {len(prototypes)} snapshot builds")
    return rows


def _counters_advance(counter_model, receipts: list[dict], *, series: str) -> None:
    """Each year's counter ends at the last number inserted. A new counter is inserted at that
    number; an existing one moves one step per number, the only move its trigger allows."""
    last: dict[int, int] = {}
    for row in receipts:
        last[row["year"]] = max(last.get(row["year"], 0), row["sequence"])
    for year, number in last.items():
        counter = counter_model.objects.filter(series=series, year=year).first()
        if counter is None:
            counter_model.objects.create(series=series, year=year, last_number=number)
            continue
        steps = number - counter.last_number
        if steps > 0:
            # One statement; the loop runs in the server. Only integers are interpolated.
            table = connection.ops.quote_name(counter_model._meta.db_table)
            loop = (
                f"DO $$ BEGIN FOR i IN 1..{int(steps)} LOOP UPDATE {table} "  # noqa: S608
                f"SET last_number = last_number + 1 WHERE id = {int(counter.pk)}; END LOOP; END $$"
            )
            with connection.cursor() as cursor:
                cursor.execute(loop)


def _csat(paid_payments, *, rng, now) -> list[dict]:
    from checkout.models import PaymentCsat

    first = None
    chosen = [p for p in paid_payments if rng.random() < CSAT_SHARE]
    seen: set[int] = set()
    rows = []
    if chosen:
        first = _reserve_ids(PaymentCsat, len(chosen))
    for i, payment in enumerate(chosen):
        if payment["order_id"] in seen:
            continue
        seen.add(payment["order_id"])
        answered = payment["succeeded_at"] + timedelta(minutes=rng.uniform(1, 600))
        if answered > now:
            continue
        score = rng.choices([1, 2, 3, 4, 5], weights=[3, 5, 12, 35, 45])[0]
        rows.append({
            "id": first + i, "order_id": payment["order_id"], "score": score,
            "comment": "" if rng.random() < 0.8 else rng.choice(
                ["Quick and easy.", "The card form was fiddly on my phone.",
                 "Took two tries.", "Great."]),
            "source": rng.choice(["email", "done_page"]), "answered_at": answered,
        })  # fmt: skip
    return rows
