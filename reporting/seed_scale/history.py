"""The scale seed's rows, made a chunk at a time and copied in (see the package docstring)."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from checkout.models import Notification, Offer, Order, PaymentCsat
from checkout.services.pricing import price_quote
from dunning.models import DunningAttempt, DunningCase
from dunning.services.policies import dunning_policy_default_ensure
from leads.models import Lead
from payments.models import PAID_STATUSES, Customer, Dispute, Payment, Refund
from receipts.models import CreditNote, DocumentCounter, Receipt
from receipts.services.snapshot import credit_note_snapshot_build, receipt_snapshot_build
from reporting.seed_scale.copy import chunks, ids_reserve, rows_copy
from reporting.seed_scale.plan import (
    CSAT_COMMENTS,
    CSAT_SHARE,
    DISPUTE_SHARE,
    GROWTH_WEBINAR,
    REFUND_SHARE,
    SCALE_OFFERS,
    SEED_EMAIL_DOMAIN,
    SEED_PREFIX,
    OrderPlan,
    ScaleSeedRefused,
    months_start,
    uuid_from,
)


class Seeder:
    def __init__(self, *, n: int, rng: random.Random, now: datetime, say) -> None:
        self.n, self.rng, self.now, self.say = n, rng, now, say
        self.start = months_start(now)
        self.span = (now - timedelta(hours=2) - self.start).total_seconds()
        self.zone = ZoneInfo(settings.RECEIPTS_TIME_ZONE)
        self.began = time.monotonic()
        self.counts: Counter[str] = Counter()
        self.payments_done = 0
        Offer.objects.get_or_create(slug="growth-webinar", defaults=GROWTH_WEBINAR)
        offers = {o.slug: o for o in Offer.objects.filter(slug__in=[s for s, _ in SCALE_OFFERS])}
        missing = {s for s, _ in SCALE_OFFERS} - set(offers)
        if missing:
            raise ScaleSeedRefused(f"demo offers missing: {', '.join(sorted(missing))}")
        self.offers = offers
        self.quotes = {
            (slug, country): price_quote(offer=offers[slug], billing_country=country)
            for slug, countries in SCALE_OFFERS
            for country in countries
        }
        self.combos = list(self.quotes)
        self.policy = dunning_policy_default_ensure()

    def copy(self, model, rows: list[dict]) -> None:
        self.counts[model._meta.label] += rows_copy(model, rows)

    def progress(self, what: str) -> None:
        elapsed = time.monotonic() - self.began
        self.say(f"  {what} ({elapsed:.0f} s)")

    # Orders with their leads, payments, dunning, refunds, disputes and CSAT, a chunk at a time.
    def orders_chunk(self, plans: list[OrderPlan]) -> None:
        rng, now, P, D = self.rng, self.now, Payment.Status, DunningCase.Status
        lead_id = ids_reserve(Lead, len(plans))
        order_id = ids_reserve(Order, len(plans))
        customer_id = ids_reserve(Customer, sum(1 for p in plans if p.case) or 1)
        payment_id = ids_reserve(Payment, sum(len(p.payments) for p in plans))
        case_id = ids_reserve(DunningCase, sum(1 for p in plans if p.case) or 1)
        attempt_id = ids_reserve(
            DunningAttempt, sum(1 for p in plans if p.case_channel == "retry") or 1
        )
        leads, orders, customers, payments, cases, attempts = [], [], [], [], [], []
        paid: list[tuple[dict, dict]] = []
        for i, item in enumerate(plans):
            slug, country = self.combos[rng.randrange(len(self.combos))]
            quote, offer = self.quotes[(slug, country)], self.offers[slug]
            created = self.start + timedelta(seconds=rng.random() * self.span)
            oid, lid = order_id + i, lead_id + i
            email, name = f"buyer{oid}@{SEED_EMAIL_DOMAIN}", f"Buyer {oid}"
            leads.append({"id": lid, "email": email, "name": name, "country": country,
                          "status": "qualified", "is_ready": True, "submissions": 1,
                          "created_at": created - timedelta(days=rng.random() * 20),
                          "first_contacted_at": created - timedelta(days=1)})  # fmt: skip
            cid = None
            if item.case:
                # Dunning retries charge a saved card: a guest Customer of the order's own.
                cid = customer_id
                customer_id += 1
                customers.append({"id": cid, "email": email, "name": name,
                                  "stripe_customer_id": f"cus_seed{cid}",
                                  "payment_method_id": f"pm_seed{cid}", "card_brand": "visa",
                                  "card_last4": "4242", "card_exp_month": 12,
                                  "card_exp_year": now.year + 2,
                                  "created_at": created, "updated_at": created})  # fmt: skip
            order = {
                "id": oid, "checkout_token": uuid_from(rng), "reference": f"SC-{oid:09d}",
                "offer_id": offer.pk, "email": email, "name": name, "billing_country": country,
                "lines": quote.lines(offer=offer), "currency": quote.currency,
                "subtotal": quote.subtotal, "tax": quote.tax, "total": quote.total,
                "amount_due_now": quote.due_now, "created_at": created, "updated_at": created,
                "checkout_attempt": 1, "terms_accepted_at": created, "lead_id": lid,
                "customer_id": cid, "status": Order.Status.FAILED, "amount_paid": 0,
                "amount_refunded": 0, "balance": quote.total,
            }  # fmt: skip
            orders.append(order)
            moment = created + timedelta(seconds=30)
            first = later = paid_row = None
            for k, outcome in enumerate(item.payments):
                pid = payment_id
                payment_id += 1
                if k:
                    moment += timedelta(hours=rng.uniform(20, 80))
                kind = "retry" if item.case_channel == "retry" else "manual"
                kind = "checkout" if k == 0 else kind
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
                payments.append(row)
                if k == 0:
                    first = row
                else:
                    later = row
            if paid_row is not None:
                order.update(status=Order.Status.PAID, amount_paid=quote.due_now, balance=0,
                             paid_at=paid_row["succeeded_at"])  # fmt: skip
                paid.append((paid_row, order))
            if not item.case:
                continue
            recovered = paid_row is not None
            recent = now - first["created_at"] < timedelta(days=14)
            status = D.RECOVERED if recovered else (D.ESCALATED if recent else D.EXHAUSTED)
            if recovered:
                closed = paid_row["succeeded_at"]
            else:
                closed = None if recent else first["created_at"] + timedelta(days=14)
            cases.append({
                "id": case_id, "order_id": oid, "cause": "checkout", "policy_id": self.policy.pk,
                "status": status, "amount": quote.due_now, "currency": quote.currency,
                "amount_recovered": quote.due_now if recovered else 0,
                "recovered_channel": item.case_channel if recovered else "",
                "failed_payment_id": first["id"], "customer_id": cid,
                "decline_code": item.decline_code, "failure_code": "card_declined",
                "category": item.category,
                "declined_payment_method_id": first["payment_method_id"],
                "failed_at": first["created_at"], "opened_at": first["created_at"],
                "closed_at": closed, "recovered_at": closed if recovered else None,
                "attempts_made": 1 if item.case_channel == "retry" else 0,
                # Nothing for the scheduler to charge: an open case waits for staff.
                "next_action_at": None, "updated_at": closed or first["created_at"],
            })  # fmt: skip
            if item.case_channel == "retry":
                attempts.append({
                    "id": attempt_id, "case_id": case_id, "number": 1, "step": 0,
                    "payment_id": later["id"],
                    "idempotency_key": f"{SEED_PREFIX}case:{case_id}:attempt:1",
                    "customer_id": cid, "payment_method_id": f"pm_seed{cid}",
                    "amount": quote.due_now, "currency": quote.currency,
                    "status": "succeeded" if later["status"] == P.SUCCEEDED else "failed",
                    "decline_code": later.get("decline_code", ""),
                    "created_at": later["created_at"],
                    "settled_at": later["created_at"] + timedelta(seconds=3),
                })  # fmt: skip
                attempt_id += 1
            case_id += 1
        refunds, disputes = self.refunds_and_disputes(paid)
        self.copy(Lead, leads)
        self.copy(Order, orders)
        self.copy(Customer, customers)
        self.copy(Payment, payments)
        self.copy(Refund, refunds)
        self.copy(Dispute, disputes)
        self.copy(DunningCase, cases)
        self.copy(DunningAttempt, attempts)
        self.copy(PaymentCsat, self.csat(paid))
        self.payments_done += len(payments)
        share = self.payments_done / self.n
        self.progress(f"payments {self.payments_done:,} of {self.n:,} ({share:.0%})")

    def refunds_and_disputes(self, paid: list[tuple[dict, dict]]) -> tuple[list, list]:
        rng, now, P = self.rng, self.now, Payment.Status
        chosen_refunds, chosen_disputes = [], []
        for payment, order in paid:
            roll = rng.random()
            if roll < REFUND_SHARE:
                full = rng.random() < 0.5
                received = payment["amount_received"]
                amount = received if full else received // 2
                moment = payment["succeeded_at"] + timedelta(days=rng.uniform(1, 12))
                if amount > 0 and moment < now:
                    chosen_refunds.append((payment, order, amount, amount == received, moment))
            elif roll < REFUND_SHARE + DISPUTE_SHARE:
                moment = payment["succeeded_at"] + timedelta(days=rng.uniform(5, 40))
                if moment < now:
                    chosen_disputes.append((payment, moment))
        refunds, disputes = [], []
        refund_id = ids_reserve(Refund, len(chosen_refunds)) if chosen_refunds else 0
        for payment, order, amount, full, moment in chosen_refunds:
            refunds.append({"id": refund_id, "payment_id": payment["id"],
                            "idempotency_key": f"{SEED_PREFIX}refund:{refund_id}",
                            "stripe_refund_id": f"re_seed{refund_id}", "amount": amount,
                            "currency": payment["currency"], "reason": "Asked for by the buyer",
                            "status": Refund.Status.SUCCEEDED, "created_at": moment,
                            "updated_at": moment})  # fmt: skip
            refund_id += 1
            payment.update(amount_refunded=amount, updated_at=moment,
                           status=P.REFUNDED if full else P.PARTIALLY_REFUNDED)  # fmt: skip
            order["amount_refunded"] = amount
            if full:
                order.update(status="refunded", balance=0)
        dispute_id = ids_reserve(Dispute, len(chosen_disputes)) if chosen_disputes else 0
        for payment, moment in chosen_disputes:
            outcome = rng.random()
            closed = moment + timedelta(days=30)
            if closed > now or outcome < 0.2:
                status, closed, stripe_status = Dispute.Status.OPEN, None, "needs_response"
                payment["status"] = P.DISPUTED
            elif outcome < 0.6:
                status, stripe_status = Dispute.Status.WON, "won"
            else:
                status, stripe_status = Dispute.Status.LOST, "lost"
                payment["status"] = P.DISPUTED
            disputes.append({"id": dispute_id, "payment_id": payment["id"],
                             "stripe_dispute_id": f"dp_seed{dispute_id}",
                             "amount": payment["amount_received"],
                             "currency": payment["currency"], "reason": "fraudulent",
                             "stripe_status": stripe_status, "status": status,
                             "opened_at": moment, "closed_at": closed,
                             "funds_withdrawn_at": moment,
                             "funds_reinstated_at": closed if status == "won" else None,
                             "updated_at": closed or moment})  # fmt: skip
            dispute_id += 1
        return refunds, disputes

    def csat(self, paid: list[tuple[dict, dict]]) -> list[dict]:
        rng, rows = self.rng, []
        chosen = []
        for payment, order in paid:
            answered = payment["succeeded_at"] + timedelta(minutes=rng.uniform(1, 600))
            if rng.random() < CSAT_SHARE and answered < self.now:
                chosen.append((order, answered))
        first = ids_reserve(PaymentCsat, len(chosen)) if chosen else 0
        for i, (order, answered) in enumerate(chosen):
            comment = "" if rng.random() < 0.8 else rng.choice(CSAT_COMMENTS)
            rows.append({"id": first + i, "order_id": order["id"], "answered_at": answered,
                         "score": rng.choices((1, 2, 3, 4, 5), weights=(3, 5, 12, 35, 45))[0],
                         "comment": comment,
                         "source": rng.choice(("email", "done_page"))})  # fmt: skip
        return rows

    def leads_without_orders(self, count: int, *, size: int) -> None:
        for chunk in chunks(range(count), size):
            first = ids_reserve(Lead, len(chunk))
            rows = []
            for i in range(len(chunk)):
                lid = first + i
                created = self.start + timedelta(seconds=self.rng.random() * self.span)
                rows.append({"id": lid, "email": f"lead{lid}@{SEED_EMAIL_DOMAIN}",
                             "name": f"Lead {lid}", "created_at": created, "submissions": 1,
                             "country": self.rng.choice(("DE", "US", "JP", "FR"))})  # fmt: skip
            self.copy(Lead, rows)
        self.progress(f"leads that never bought: {count:,}")

    # Receipts and the emails that carried them, in the order the payments were made.
    def receipts_and_emails(self, *, size: int) -> None:
        series = settings.RECEIPTS_SERIES
        counters = dict(
            DocumentCounter.objects.filter(series=series).values_list("year", "last_number")
        )
        self.counters_before = dict(counters)
        paid = (
            Payment.objects.filter(
                idempotency_key__startswith=SEED_PREFIX, status__in=PAID_STATUSES
            )
            .order_by("succeeded_at", "id")
            .values_list("id", "order_id", "amount_received", "stripe_payment_intent_id",
                         "stripe_charge_id", "succeeded_at", "attempt_kind", "order__email",
                         "order__name", "order__reference", "order__offer_id",
                         "order__billing_country", "order__currency", "order__lines")
        )  # fmt: skip
        prototypes: dict[tuple[int, str], dict] = {}
        done = 0
        for chunk in chunks(paid.iterator(chunk_size=size), size):
            notification_id = ids_reserve(Notification, len(chunk))
            receipt_id = ids_reserve(Receipt, len(chunk))
            notifications, receipts = [], []
            for i, row in enumerate(chunk):
                (pid, oid, received, pi, charge, succeeded, kind, email, name, reference,
                 offer_id, country, currency, lines) = row  # fmt: skip
                roll = self.rng.random()
                status = "sent" if roll < 0.975 else ("bounced" if roll < 0.99 else "failed")
                sent = succeeded + timedelta(seconds=5)
                nid = notification_id + i
                notifications.append({
                    "id": nid, "key": f"{SEED_PREFIX}payment_confirmed:{pid}",
                    "kind": Notification.Kind.PAYMENT_CONFIRMED, "order_id": oid,
                    "payment_id": pid, "to_email": email, "status": status,
                    "context": {"payment_amount": received, "currency": currency,
                                "amount_paid": received, "balance": 0},
                    "attempts": 5 if status == "failed" else 1,
                    "last_error": "SMTP 451: try again later" if status == "failed" else "",
                    "subject": f"Payment received: your access to {lines[0]['name']}",
                    "created_at": sent, "sent_at": None if status == "failed" else sent,
                    "message_id": f"<seed.{nid}@{SEED_EMAIL_DOMAIN}>",
                    "bounced_at": sent + timedelta(minutes=2) if status == "bounced" else None,
                })  # fmt: skip
                issued = succeeded + timedelta(seconds=1)
                if (offer_id, country) not in prototypes:
                    # The real snapshot of one payment per offer and country; the others differ
                    # only in buyer, order, payment and moment.
                    payment = Payment.objects.select_related("order__offer", "order__lead")
                    prototypes[(offer_id, country)] = receipt_snapshot_build(
                        payment=payment.get(pk=pid), now=issued
                    )
                proto = prototypes[(offer_id, country)]
                local = issued.astimezone(self.zone)
                sequence = counters.get(local.year, 0) + 1
                counters[local.year] = sequence
                number = f"{series}-{local.year}-{sequence:06d}"
                snapshot = {
                    **proto, "number": number, "issued_at": issued.isoformat(),
                    "issue_date": local.date().isoformat(), "year": local.year,
                    "buyer": {**proto["buyer"], "name": name, "email": email},
                    "order": {**proto["order"], "reference": reference},
                    "payment": {**proto["payment"], "stripe_reference": pi,
                                "stripe_charge": charge, "paid_at": succeeded.isoformat(),
                                "attempt_kind": kind},
                }  # fmt: skip
                receipts.append({
                    "id": receipt_id + i, "payment_id": pid, "order_id": oid, "series": series,
                    "year": local.year, "sequence": sequence, "number": number,
                    "issued_at": issued, "snapshot": snapshot, "currency": snapshot["currency"],
                    "net": snapshot["net"], "tax": snapshot["tax"], "total": snapshot["total"],
                    "buyer_email": email, "buyer_name": name, "status": "issued",
                    "delivered_by_id": None if status == "failed" else nid,
                })  # fmt: skip
            self.copy(Notification, notifications)
            self.copy(Receipt, receipts)
            done += len(chunk)
            self.progress(f"receipts and their emails: {done:,}")
        self.counters_after = counters

    # Credit notes for the refunds, and the refund emails that carried them.
    def credit_notes_and_emails(self, *, size: int) -> None:
        """One credit note per seeded refund, numbered per year in the order refunds were made,
        with the snapshot receipts.services.snapshot builds from its receipt."""
        series = settings.RECEIPTS_CREDIT_NOTE_SERIES
        counters = dict(
            DocumentCounter.objects.filter(series=series).values_list("year", "last_number")
        )
        self.note_counters_before = dict(counters)
        refunds = (
            Refund.objects.filter(idempotency_key__startswith=SEED_PREFIX)
            .order_by("created_at", "id")
            .values_list("id", "payment_id", "amount", "reason", "stripe_refund_id",
                         "created_at", "payment__receipt__id", "payment__receipt__number",
                         "payment__receipt__total", "payment__receipt__snapshot",
                         "payment__order_id", "payment__order__email",
                         "payment__order__name")
        )  # fmt: skip
        done = 0
        for chunk in chunks(refunds.iterator(chunk_size=size), size):
            notification_id = ids_reserve(Notification, len(chunk))
            note_id = ids_reserve(CreditNote, len(chunk))
            notifications, notes = [], []
            for i, row in enumerate(chunk):
                (rid, pid, amount, reason, stripe_refund, moment, receipt_id, receipt_number,
                 receipt_total, receipt_snapshot, oid, email, name) = row  # fmt: skip
                issued = moment + timedelta(seconds=2)
                receipt = Receipt(
                    pk=receipt_id, number=receipt_number, total=receipt_total,
                    snapshot=receipt_snapshot,
                )  # fmt: skip
                snapshot = credit_note_snapshot_build(
                    receipt=receipt, amount=amount, credited_before=[], reason=reason,
                    refund={"stripe_refund": stripe_refund, "refunded_at": moment.isoformat()},
                    now=issued,
                )  # fmt: skip
                sequence = counters.get(snapshot["year"], 0) + 1
                counters[snapshot["year"]] = sequence
                number = f"{series}-{snapshot['year']}-{sequence:06d}"
                snapshot["number"] = number
                nid = notification_id + i
                notifications.append({
                    "id": nid, "key": f"{SEED_PREFIX}refund_issued:{rid}",
                    "kind": Notification.Kind.REFUND_ISSUED, "order_id": oid, "payment_id": pid,
                    "to_email": email, "status": "sent", "attempts": 1,
                    "context": {"refund_amount": amount, "currency": snapshot["currency"],
                                "full": amount == receipt_total},
                    "subject": "Your refund is on its way", "created_at": issued,
                    "sent_at": issued + timedelta(seconds=5),
                    "message_id": f"<seed.{nid}@{SEED_EMAIL_DOMAIN}>",
                })  # fmt: skip
                notes.append({
                    "id": note_id + i, "receipt_id": receipt_id, "refund_id": rid,
                    "reason": reason[:500], "series": series, "year": snapshot["year"],
                    "sequence": sequence, "number": number,
                    "issued_at": datetime.fromisoformat(snapshot["issued_at"]),
                    "snapshot": snapshot, "currency": snapshot["currency"],
                    "net": snapshot["net"], "tax": snapshot["tax"], "total": snapshot["total"],
                    "buyer_email": email, "buyer_name": name, "status": "issued",
                    "delivered_by_id": nid,
                })  # fmt: skip
            self.copy(Notification, notifications)
            self.copy(CreditNote, notes)
            done += len(chunk)
        self.note_counters_after = counters
        self.progress(f"credit notes and their emails: {done:,}")

    def counters_advance(self) -> None:
        """Each year's counter ends at the last number inserted. A new counter is inserted at
        that number; an existing one moves one step per number, the only move its trigger
        allows."""
        table = connection.ops.quote_name(DocumentCounter._meta.db_table)
        for series, before_all, after_all in (
            (settings.RECEIPTS_SERIES, self.counters_before, self.counters_after),
            (
                settings.RECEIPTS_CREDIT_NOTE_SERIES,
                self.note_counters_before,
                self.note_counters_after,
            ),
        ):
            for year, number in after_all.items():
                before = before_all.get(year)
                if before is None:
                    DocumentCounter.objects.create(series=series, year=year, last_number=number)
                elif number > before:
                    counter = DocumentCounter.objects.get(series=series, year=year)
                    # One statement; the loop runs in the server. Only integers go in.
                    steps, pk = int(number - before), int(counter.pk)
                    loop = (
                        f"DO $$ BEGIN FOR i IN 1..{steps} LOOP UPDATE {table} "  # noqa: S608
                        f"SET last_number = last_number + 1 WHERE id = {pk}; END LOOP; END $$"
                    )
                    with connection.cursor() as cursor:
                        cursor.execute(loop)
