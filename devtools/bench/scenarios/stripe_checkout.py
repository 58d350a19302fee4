"""Checkout create-and-confirm latency against the strict Stripe peer: the gateway's two calls
(PaymentIntent create, on-session confirm) against the same calls made with the bare SDK, in
the same run, interleaved, against one peer (devtools/bench/stripe_checkout_latency.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devtools.bench.harness import ROOT, Result
from devtools.embedded import EmbeddedLocalstripe, free_port

ITERATIONS = int(os.environ.get("BENCH_STRIPE_ITERATIONS", "200"))
BARE = "checkout create+confirm, bare SDK"


def run(bench) -> None:
    peer = EmbeddedLocalstripe(free_port(), log_path=bench.workdir / "stripe-peer.log")
    peer.start()
    try:
        output = subprocess.run(
            [
                sys.executable,
                "-m",
                "devtools.bench.stripe_checkout_latency",
                "--iterations",
                str(ITERATIONS),
            ],
            cwd=ROOT,
            env={**bench.env, "STRIPE_API_BASE": peer.api_base},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        peer.stop()
    figures = json.loads(output.strip().splitlines()[-1])
    for name, key, baseline in [
        (BARE, "sdk", BARE),
        ("checkout create+confirm, gateway", "gateway", BARE),
    ]:
        f = figures[key]
        result = Result(
            name=name,
            requests_per_second=1000 / f["mean_ms"],
            p50_ms=f["p50_ms"],
            p99_ms=float("nan"),
            non_2xx=0,
            baseline=baseline,
            notes=f"p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms per create+confirm "
            f"({f['count']} pairs, strict peer; req/s column = pairs/s in one thread)",
        )
        bench.results[name] = result
