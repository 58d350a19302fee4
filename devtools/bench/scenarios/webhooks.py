"""Webhook acknowledgement: the real /webhooks/stripe/ against the minimal durable ack
(verify + INSERT … ON CONFLICT DO NOTHING into the same inbox table) and the bare view.

Every request carries a distinct event signed with the bench's STRIPE_WEBHOOK_SECRET, made just
before its run so the timestamps stay within Stripe's 300 s tolerance. No worker runs: the real
view still publishes every event to Redis (from its background publisher, which coalesces bursts
into dispatch messages), as in production; the workers' fan-out is not measured here."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

from devtools.bench.harness import LUA_DIR, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "stripe_objects.json"
MINIMAL = "webhook minimal (verify + insert)"
EVENTS_PER_SECOND = 4_000  # more than either view can take, so no event is sent twice


def _signed_events(path: Path, count: int, secret: str, prefix: str) -> Path:
    intent = json.loads(FIXTURES.read_text())["payment_intent"]
    now = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            intent = {**intent, "id": f"pi_bench_{prefix}{n}", "status": "succeeded"}
            event = {
                "id": f"evt_bench_{prefix}_{uuid.uuid4().hex[:16]}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "created": now,
                "data": {"object": intent},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": "payment_intent.succeeded",
            }
            body = json.dumps(event, separators=(",", ":"))
            signature = hmac.new(
                secret.encode(), f"{now}.{body}".encode(), hashlib.sha256
            ).hexdigest()
            out.write(f"t={now},v1={signature}\t{body}\n")
    return path


def run(bench) -> None:
    secret = bench.env["STRIPE_WEBHOOK_SECRET"]
    count = bench.duration * EVENTS_PER_SECOND
    lua = LUA_DIR / "signed_events.lua"
    for name, path, prefix, baseline in [
        (MINIMAL, "/bench/webhook-minimal/", "min", "bare view"),
        (
            "webhook /webhooks/stripe/ (verify, store, enqueue)",
            "/webhooks/stripe/",
            "real",
            MINIMAL,
        ),
    ]:
        events = _signed_events(bench.workdir / f"events-{prefix}.tsv", count, secret, prefix)
        result = bench.wrk(
            name, path, lua=lua, lua_args=[str(events), str(bench.threads)], baseline=baseline
        )
        bare = bench.results.get("bare view")
        if bare and baseline != "bare view":
            result.notes = (
                f"{result.requests_per_second / bare.requests_per_second:.2f}x of bare view; "
                f"p99 target < 50 ms, throughput target >= 0.7x of the minimal view"
            )
    stored = (
        bench.manage(
            "shell",
            "-c",
            "from payments.models import WebhookEvent as W; "
            "print('rows', W.objects.filter(stripe_event_id__startswith='evt_bench_real').count(), "
            "W.objects.filter(stripe_event_id__startswith='evt_bench_min').count())",
        )
        .split("rows", 1)[-1]
        .split()
    )
    real = bench.results["webhook /webhooks/stripe/ (verify, store, enqueue)"]
    real.notes += f"; rows stored: real {stored[0]}, minimal {stored[1]}"
