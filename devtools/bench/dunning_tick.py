"""The dunning scheduler's tick against a plain SELECT of the same rows, in one process.

Run by devtools/bench/scenarios/dunning.py as `python -m devtools.bench.dunning_tick` with the
bench's environment (its own Postgres and Redis, production settings). It seeds
BENCH_DUNNING_CASES open cases (default 100,000), BENCH_DUNNING_DUE of them due (default
10,000), and times, for several due counts up to all of them:

- select: the due rows as the claim reads them (`dunning_cases_due`: `SELECT id, next_step …
  WHERE next_action_at <= now AND not leased ORDER BY next_action_at`), and, for reference,
  the same rows as full model instances;
- tick: `dunning_tick` (no discovery): claim the due cases with FOR UPDATE SKIP LOCKED in
  batches, lease them, and publish their steps to the real Redis broker,
  DUNNING_STEPS_PER_MESSAGE to a message, after each batch commits.

Between runs the claimed rows get their due time back and the queue is emptied; no worker
runs, so nothing else touches the rows. Each figure is the median of BENCH_DUNNING_ROUNDS runs.
Prints one JSON object per due count on stdout.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from checkout.models import Offer, Order  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from dunning.models import DunningCase  # noqa: E402
from dunning.selectors import dunning_cases_due  # noqa: E402
from dunning.services import dunning_tick  # noqa: E402
from dunning.services.policies import dunning_policy_default_ensure  # noqa: E402

BATCH = 10_000


def seed(*, total: int, now) -> None:
    if DunningCase.objects.count() >= total:
        return
    offer, _ = Offer.objects.get_or_create(
        slug="bench-dunning",
        defaults={"name": "Bench", "price_amount": 12_000, "currency": "EUR"},
    )
    policy = dunning_policy_default_ensure()
    for start in range(0, total, BATCH):
        with transaction.atomic():
            orders = Order.objects.bulk_create(
                Order(
                    checkout_token=uuid.uuid4(),
                    reference=f"BENCH-{n:07d}",
                    offer=offer,
                    email=f"bench{n}@example.com",
                    name="Bench Buyer",
                    billing_country="GB",
                    currency="EUR",
                    subtotal=12_000,
                    total=12_000,
                    amount_due_now=12_000,
                    balance=12_000,
                    status=Order.Status.FAILED,
                )
                for n in range(start, min(start + BATCH, total))
            )
            DunningCase.objects.bulk_create(
                DunningCase(
                    order=order,
                    cause=DunningCase.Cause.CHECKOUT,
                    policy=policy,
                    status=DunningCase.Status.RETRY_SCHEDULED,
                    amount=12_000,
                    currency="EUR",
                    failed_at=now - timedelta(days=1),
                    opened_at=now - timedelta(days=1),
                    next_step=1,
                    # Not due: spread over the coming two weeks.
                    next_action_at=now + timedelta(minutes=1 + n % 20_000),
                    timezone="Europe/London",
                )
                for n, order in enumerate(orders, start=start)
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE dunning_dunningcase")


def make_due(*, due: int, now) -> list[int]:
    """Make exactly `due` cases due (the lowest ids), every other one not; return their ids."""
    ids = list(DunningCase.objects.order_by("pk").values_list("pk", flat=True)[:due])
    with transaction.atomic():
        DunningCase.objects.filter(next_action_at__lte=now).update(
            next_action_at=now + timedelta(days=3), leased_until=None
        )
        for start in range(0, len(ids), BATCH):
            DunningCase.objects.filter(pk__in=ids[start : start + BATCH]).update(
                next_action_at=now - timedelta(minutes=5), leased_until=None
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE dunning_dunningcase")
    return ids


def queue_length() -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)


def queue_purge() -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)


def one_round(*, due: int, now) -> tuple[float, float, float, int]:
    """(values SELECT s, full-row SELECT s, tick s, broker messages) for one run."""
    make_due(due=due, now=now)
    queue_purge()
    began = time.perf_counter()
    rows = list(dunning_cases_due(now=now).values_list("pk", "next_step"))
    select_s = time.perf_counter() - began
    began = time.perf_counter()
    full = list(dunning_cases_due(now=now))
    full_s = time.perf_counter() - began
    assert len(rows) == len(full) == due, (len(rows), len(full))
    began = time.perf_counter()
    result = dunning_tick(now=now, discover=False)
    tick_s = time.perf_counter() - began
    assert result["claimed"] == due, result
    assert not dunning_cases_due(now=now).exists()
    return select_s, full_s, tick_s, queue_length()


def main() -> None:
    total = int(os.environ.get("BENCH_DUNNING_CASES", "100000"))
    first = int(os.environ.get("BENCH_DUNNING_DUE", "10000"))
    rounds = int(os.environ.get("BENCH_DUNNING_ROUNDS", "3"))
    now = timezone.now()
    began = time.perf_counter()
    seed(total=total, now=now)
    print(json.dumps({"seeded": total, "seconds": round(time.perf_counter() - began, 1)}))

    due_counts = sorted({first, total // 4, total // 2, total})
    for due in due_counts:
        runs = [one_round(due=due, now=now) for _ in range(rounds)]
        select_s, full_s, tick_s = (statistics.median(r[i] for r in runs) for i in range(3))
        print(
            json.dumps(
                {
                    "due": due,
                    "open": total,
                    "select_ms": round(select_s * 1000, 1),
                    "select_full_ms": round(full_s * 1000, 1),
                    "tick_ms": round(tick_s * 1000, 1),
                    "ratio": round(tick_s / select_s, 2),
                    "ratio_full": round(tick_s / full_s, 2),
                    "us_per_case": round(tick_s / due * 1e6, 1),
                    "messages": runs[-1][3],
                    "rounds": rounds,
                }
            ),
            flush=True,
        )
    queue_purge()


if __name__ == "__main__":
    main()
