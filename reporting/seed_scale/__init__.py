"""`manage.py seed_demo --scale N`: a synthetic year of lead-to-cash history, N payments.

What it makes, in one transaction, for the 12 calendar months that end with this one:
- orders of three one-time offers in EUR, USD and JPY, priced by checkout's own `price_quote`;
- one lead per order plus half as many leads that never bought (no consent records: see below);
- N payments: the checkout attempt of every order (about 82 % succeed), and for a failed one
  the dunning case that followed, with its retry (a soft decline, recovered 60 % of the time) or
  its payment link (a card that needs the buyer, 40 %); hard declines are written off;
- refunds (about 5 % of paid payments, half of them partial) and disputes (about 0.6 %);
- a receipt for every paid payment, numbered without gaps in the order they were paid, and the
  payment-confirmed email that carried it (a few bounced or failed); a credit note per refund;
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
- Every refund gets its credit note the same way (numbered per year in the order refunds were
  made, snapshot from credit_note_snapshot_build) and the refund email that carried it.
- Consent: seeded leads carry no consent records, so every hash chain stays valid (an empty
  chain verifies) and no one appears to have agreed to anything they did not.
- Idempotent: a second run finds the seeded payments (idempotency keys `seed-scale:…`) and
  changes nothing.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from checkout.models import Notification, Order, PaymentCsat
from dunning.models import DunningAttempt, DunningCase
from leads.models import Lead
from payments.models import Customer, Dispute, Payment, Refund
from receipts.models import CreditNote, DocumentCounter, Receipt
from reporting.seed_scale.copy import chunks
from reporting.seed_scale.history import Seeder
from reporting.seed_scale.plan import (
    LEADS_WITHOUT_ORDERS,
    MAX_SCALE,
    SEED_PREFIX,
    ScaleSeedRefused,
    order_plans,
)

__all__ = ["ScaleSeedRefused", "scale_seed"]


def scale_seed(
    *,
    n: int,
    stdout,
    seed: int = 16,
    now: datetime | None = None,
    orders_per_chunk: int = 25_000,
    receipts_per_chunk: int = 20_000,
) -> dict[str, int]:
    """Seed N payments of history (see the module docstring). Returns rows per model.

    Rows are made and copied a chunk at a time, so memory stays flat however large N is."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ScaleSeedRefused("--scale takes a whole number of payments, 1 or more.")
    if n > MAX_SCALE:
        raise ScaleSeedRefused(f"--scale is at most {MAX_SCALE:,} payments.")

    def say(message: str) -> None:
        stdout.write(message)
        if hasattr(stdout, "flush"):
            stdout.flush()

    seeded = Payment.objects.filter(idempotency_key__startswith=SEED_PREFIX)
    if seeded.exists():
        say(f"kept the scale seed already here ({seeded.count():,} payments); use a fresh "
            "database to seed another")  # fmt: skip
        return {}
    with transaction.atomic():
        # Nothing else writes these tables while ids are reserved and filled (reads go on).
        tables = [Lead, Order, Customer, Payment, Refund, Dispute, DunningCase, DunningAttempt,
                  Notification, Receipt, CreditNote, PaymentCsat, DocumentCounter]  # fmt: skip
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )
        if seeded.exists():  # another seed got the locks first
            say("kept the scale seed another run just made")
            return {}
        seeder = Seeder(n=n, rng=random.Random(seed), now=now or timezone.now(), say=say)
        say(f"seeding {n:,} payments from {seeder.start:%Y-%m} to {seeder.now:%Y-%m}:")
        orders = 0
        for plans in chunks(order_plans(n=n, rng=seeder.rng), orders_per_chunk):
            seeder.orders_chunk(plans)
            orders += len(plans)
        seeder.leads_without_orders(int(orders * LEADS_WITHOUT_ORDERS), size=orders_per_chunk)
        seeder.receipts_and_emails(size=receipts_per_chunk)
        seeder.credit_notes_and_emails(size=receipts_per_chunk)
        seeder.counters_advance()
        seeder.progress("checking every reference (at commit)")
    counts = dict(seeder.counts)
    say(f"seeded {n:,} payments in {time.monotonic() - seeder.began:.1f} s: "
        + ", ".join(f"{label} {count:,}" for label, count in sorted(counts.items())))  # fmt: skip
    return counts
