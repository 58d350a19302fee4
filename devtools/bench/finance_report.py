"""The finance dashboard and the payments export on 1,000,000 payments, against Postgres' own
floor for the same rows, in one process and run.

Run by devtools/bench/scenarios/finance.py as `python -m devtools.bench.finance_report` with the
bench's environment (its own Postgres, production settings). It seeds BENCH_FINANCE_PAYMENTS
payments (default 1,000,000) over the last 12 months in EUR, GBP and JPY, with proportional
leads, orders, receipts, disputes, dunning cases and discrepancies, by INSERT … SELECT over
generate_series (each table copies one template row made through the ORM, so every column
has a value a real row would have). Then, each the median of BENCH_FINANCE_ROUNDS runs:

- dashboard: the finance dashboard view (every panel, rendered) for a 12-month range in one
  currency, against `SELECT count(*)` over the payments in the same range;
- export: the payments CSV export view streamed to the end, in rows per second, against
  `COPY (the export's own SELECT) TO STDOUT (FORMAT csv)` of the same columns and rows, and the
  process's peak RSS growth during the export (sampled every chunk from /proc/self/status).

Prints one JSON object per figure on stdout.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.utils import timezone  # noqa: E402

from checkout.models import Notification, Offer, Order  # noqa: E402
from dunning.models import DunningCase  # noqa: E402
from dunning.services.policies import dunning_policy_default_ensure  # noqa: E402
from leads.models import Lead  # noqa: E402
from payments.models import Discrepancy, Dispute, Payment  # noqa: E402
from receipts.models import Receipt  # noqa: E402
from reporting.exports import KINDS, export_queryset  # noqa: E402
from reporting.views import export_download, finance_dashboard  # noqa: E402

CURRENCIES = ("EUR", "GBP", "JPY")
DAY_SECONDS = 86_400


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if not f.primary_key]


def clone(model, template_pk: int, overrides: dict[str, str], *, count: int = 0, source=""):
    """INSERT copies of one row, one per row of `source` (default: `count` rows numbered `g`
    by generate_series), with some columns replaced by SQL expressions of the source's
    columns: a bulk seed that needs no column list of its own. Bench-only SQL."""
    table = model._meta.db_table
    columns = _columns(model)
    select = [overrides.get(c, f't."{c}"') for c in columns]
    source = source or f"generate_series(1, {int(count)}) AS s(g)"
    names = ", ".join('"' + c + '"' for c in columns)
    # Built from our own models' metadata, integers and the literals in this file.
    sql = (
        f'INSERT INTO "{table}" ({names}) SELECT {", ".join(select)} '  # noqa: S608
        f'FROM "{table}" t, {source} WHERE t.id = {int(template_pk)}'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)


def seed(*, payments: int, now) -> dict:
    if Payment.objects.count() >= payments:
        return {}
    leads, orders, cases = payments * 3 // 10, payments * 6 // 10, payments * 14 // 100
    offers = [
        Offer.objects.create(
            name=f"Bench {c} {n}", slug=f"bench-{c.lower()}-{n}", price_amount=10_000 * n,
            currency=c,
        )
        for n in (1, 2) for c in CURRENCIES
    ]  # fmt: skip
    lead = Lead.objects.create(email="template@bench.example.com", name="Bench Lead")
    order = Order.objects.create(
        reference="BENCH-T", offer=offers[0], email="buyer@bench.example.com", name="Bench Buyer",
        billing_country="GB", currency="EUR", subtotal=10_000, total=10_000,
        amount_due_now=10_000, lead=lead, status=Order.Status.PAID,
    )  # fmt: skip
    payment = Payment.objects.create(
        order=order, idempotency_key="bench:t", amount=10_000, currency="eur",
        status=Payment.Status.SUCCEEDED,
    )  # fmt: skip
    notification = Notification.objects.create(
        key="bench:t", kind="receipt", order=order, payment=payment, to_email=order.email,
        status="sent",
    )  # fmt: skip
    receipt = Receipt.objects.create(
        series="R", year=2026, sequence=0, number="R-BENCH-T", issued_at=now, snapshot={},
        currency="EUR", net=10_000, tax=0, total=10_000, buyer_email=order.email,
        buyer_name=order.name, payment=payment, order=order, status="stored",
    )  # fmt: skip
    case = DunningCase.objects.create(
        order=order, cause="checkout", policy=dunning_policy_default_ensure(), amount=10_000,
        currency="EUR", failed_at=now, opened_at=now,
    )  # fmt: skip
    dispute = Dispute.objects.create(
        payment=payment, stripe_dispute_id="dp_bench_t", amount=10_000, currency="eur",
        opened_at=now,
    )  # fmt: skip
    discrepancy = Discrepancy.objects.create(kind="overpayment", payment=payment, amount=100)
    first_offer = offers[0].pk
    span = 365 * DAY_SECONDS
    stamp = f"'{now.isoformat()}'::timestamptz"

    def spread(n: int) -> str:
        """Row g of n: evenly over the last 12 months, newest last."""
        return f"({stamp} - make_interval(secs => {span} - g::float8 * {span} / {n}))"

    # Order g_o = 1 + (g % orders) (its id is base_order + g_o) has offer g_o % 6 and so
    # currency (g_o % 6) % 3; its payments and cases keep that currency.
    def order_of(g: str = "g") -> str:
        return f"(1 + ({g} % {orders}))"

    started = time.perf_counter()
    with transaction.atomic():
        base_lead = lead.pk
        clone(Lead, lead.pk, {
            "email": "'lead' || g || '@bench.example.com'",
            "created_at": spread(leads),
            "is_ready": "(g % 3 <> 0)",
            "sla_state": "(ARRAY['met','met','met','met_late','breached','pending'])[1 + g % 6]",
        }, count=leads)  # fmt: skip
        base_order = order.pk
        clone(Order, order.pk, {
            "checkout_token": "gen_random_uuid()",
            "reference": "'BENCH-' || g",
            "lead_id": f"{base_lead} + 1 + (g % {leads})",
            "offer_id": f"{first_offer} + (g % 6)",
            "currency": "(ARRAY['EUR','GBP','JPY'])[1 + (g % 6) % 3]",
            "amount_paid": "CASE WHEN g % 5 <> 0 THEN 10000 ELSE 0 END",
        }, count=orders)  # fmt: skip
        base_payment = payment.pk
        paid = "g % 100 < 84"
        clone(Payment, payment.pk, {
            "order_id": f"{base_order} + {order_of()}",
            "idempotency_key": "'bench:' || g",
            "stripe_payment_intent_id": "'pi_bench' || g",
            "currency": f"(ARRAY['eur','gbp','jpy'])[1 + ({order_of()} % 6) % 3]",
            "amount": "1000 + (g % 50) * 200",
            "amount_received": f"CASE WHEN {paid} THEN 1000 + (g % 50) * 200 ELSE 0 END",
            "amount_refunded": "CASE WHEN g % 100 < 3 THEN 500 ELSE 0 END",
            "status": "CASE WHEN g % 100 < 3 THEN 'partially_refunded' WHEN g % 100 = 3 "
                      f"THEN 'disputed' WHEN {paid} THEN 'succeeded' WHEN g % 100 < 98 "
                      "THEN 'failed' ELSE 'processing' END",
            "attempt_kind": "CASE WHEN g % 10 = 0 THEN 'retry' ELSE 'checkout' END",
            "created_at": spread(payments),
            "succeeded_at": f"CASE WHEN {paid} THEN {spread(payments)} + interval '1 minute' END",
        }, count=payments)  # fmt: skip
        # A receipt for every paid payment; one in 50 not delivered yet.
        clone(Receipt, receipt.pk, {
            "sequence": "s.g", "number": "'R-BENCH-' || s.g", "payment_id": "s.pid",
            "issued_at": "s.at", "currency": "upper(s.currency)",
            "delivered_by_id": f"CASE WHEN s.g % 50 <> 0 THEN {notification.pk} END",
        }, source=(
            "(SELECT row_number() OVER (ORDER BY id) AS g, id AS pid, succeeded_at AS at, "  # noqa: S608
            f"currency FROM payments_payment WHERE id > {base_payment} "
            "AND succeeded_at IS NOT NULL) s"
        ))  # fmt: skip
        clone(Dispute, dispute.pk, {
            "stripe_dispute_id": "'dp_bench' || g",
            "payment_id": f"{base_payment} + 100 * (g - 1) + 3",
        }, count=payments // 100)  # fmt: skip
        clone(DunningCase, case.pk, {
            "order_id": f"{base_order} + {order_of()}",
            "currency": f"(ARRAY['EUR','GBP','JPY'])[1 + ({order_of()} % 6) % 3]",
            "status": "(ARRAY['recovered','recovered','exhausted','open'])[1 + g % 4]",
            "category": "(ARRAY['soft','soft','hard'])[1 + g % 3]",
            "recovered_channel": "CASE WHEN g % 4 < 2 THEN "
                                 "(ARRAY['retry','link','portal'])[1 + g % 3] ELSE '' END",
            "amount_recovered": "CASE WHEN g % 4 < 2 THEN 10000 ELSE 0 END",
            "opened_at": spread(cases),
            "failed_at": spread(cases),
        }, count=cases)  # fmt: skip
        clone(Discrepancy, discrepancy.pk, {
            "payment_id": f"{base_payment} + 200 * g",
            "detected_at": spread(payments // 200),
            "status": "CASE WHEN g % 3 = 0 THEN 'open' ELSE 'resolved' END",
            "resolved_at": f"CASE WHEN g % 3 <> 0 THEN {spread(payments // 200)} "
                           "+ make_interval(hours => 1 + g % 48) END",
        }, count=payments // 200)  # fmt: skip
    seeded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"seeded": Payment.objects.count(), "seconds": round(seeded, 1)}


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _finance_user():
    user, _ = get_user_model().objects.get_or_create(
        username="bench-finance", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name="Finance"))
    return get_user_model().objects.get(pk=user.pk)


def _request(path: str, params: dict, user):
    request = RequestFactory().get(path, params, secure=True, HTTP_HOST="localhost")
    request.user = user
    return request


def main() -> None:
    payments = int(os.environ.get("BENCH_FINANCE_PAYMENTS", "1000000"))
    rounds = int(os.environ.get("BENCH_FINANCE_ROUNDS", "3"))
    now = timezone.now()
    print(json.dumps(seed(payments=payments, now=now) or {"seeded": payments, "seconds": 0}))
    user = _finance_user()
    today = timezone.localdate()
    start_day = today - timedelta(days=365)
    since = timezone.make_aware(timezone.datetime.combine(start_day, timezone.datetime.min.time()))
    until = timezone.make_aware(
        timezone.datetime.combine(today + timedelta(days=1), timezone.datetime.min.time())
    )
    period = {"date_from": start_day.isoformat(), "date_to": today.isoformat()}

    counts, views = [], []
    for _ in range(rounds + 1):
        began = time.perf_counter()
        rows = Payment.objects.filter(created_at__gte=since, created_at__lt=until).count()
        counts.append(time.perf_counter() - began)
        began = time.perf_counter()
        response = finance_dashboard(
            _request("/staff/reports/finance/", {**period, "currency": "EUR"}, user)
        )
        views.append(time.perf_counter() - began)
        assert response.status_code == 200, response.status_code
    count_s, view_s = statistics.median(counts[1:]), statistics.median(views[1:])
    print(json.dumps({
        "figure": "dashboard", "rows": rows, "count_ms": round(count_s * 1000, 1),
        "dashboard_ms": round(view_s * 1000, 1), "ratio": round(view_s / count_s, 2),
        "rounds": rounds,
    }), flush=True)  # fmt: skip

    kind = KINDS["payments"]
    sql, params = export_queryset(kind=kind, since=since, until=until).query.sql_with_params()
    copies, exports, growths = [], [], []
    for _ in range(rounds):
        began = time.perf_counter()
        copied = 0
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
        ):
            for block in copy:
                copied += len(block)
        copies.append(time.perf_counter() - began)

        response = export_download(
            _request("/staff/reports/exports/payments/", {**period, "format": "csv"}, user),
            kind="payments",
        )
        before = peak = _rss_kb()
        began = time.perf_counter()
        written = lines = 0
        for n, chunk in enumerate(response.streaming_content):
            written += len(chunk)
            lines += chunk.count(b"\n")
            if n % 10 == 0:
                peak = max(peak, _rss_kb())
        exports.append(time.perf_counter() - began)
        growths.append((max(peak, _rss_kb()) - before) / 1024)
        assert lines - 1 == rows, (lines, rows)
    copy_s, export_s = statistics.median(copies), statistics.median(exports)
    print(json.dumps({
        "figure": "export", "rows": rows, "copy_rows_s": round(rows / copy_s),
        "export_rows_s": round(rows / export_s), "ratio": round(copy_s / export_s, 3),
        "copy_mb": round(copied / 1e6, 1), "export_mb": round(written / 1e6, 1),
        "peak_growth_mb": round(max(growths), 1), "rounds": rounds,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
