"""The dunning scheduler: one tick (claim the due cases with FOR UPDATE SKIP LOCKED in batches,
lease them, publish their steps to Redis a batch per message) against a plain SELECT of the same
rows, in the same process and run, for 10,000 due cases of 100,000 open and up to all of them
(devtools/bench/dunning_tick.py). The growth from 10,000 to 100,000 due rows should be linear:
the time per case stays the same.

The figures are not requests per second: the table's req/s column shows cases per second of the
tick, p50 the tick in ms and p99 the SELECT in ms; the ratio is tick / SELECT."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.bench.harness import ROOT, Result


def run(bench) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "devtools.bench.dunning_tick"],
        cwd=ROOT,
        env=bench.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    seeded = next(r for r in rows if "seeded" in r)
    print(
        f"bench: dunning seeded {seeded['seeded']} open cases in {seeded['seconds']} s", flush=True
    )
    runs = [r for r in rows if "due" in r]
    for r in runs:
        name = f"dunning tick, {r['due']:,} due of {r['open']:,}"
        bench.results[name] = Result(
            name=name,
            requests_per_second=r["due"] / (r["tick_ms"] / 1000),
            p50_ms=r["tick_ms"],
            p99_ms=r["select_ms"],
            non_2xx=0,
            baseline="SELECT of the same rows",
            ratio=r["ratio"],
            notes=f"{r['us_per_case']} µs per case, {r['messages']} broker messages; "
            f"vs full-row SELECT ({r['select_full_ms']} ms): {r['ratio_full']}x; "
            f"median of {r['rounds']}",
        )
    first, last = runs[0], runs[-1]
    growth = (last["tick_ms"] / first["tick_ms"]) / (last["due"] / first["due"])
    print(
        f"bench: dunning tick grows {last['tick_ms'] / first['tick_ms']:.1f}x for "
        f"{last['due'] / first['due']:.0f}x the due cases (1.0 = linear: {growth:.2f})",
        flush=True,
    )
