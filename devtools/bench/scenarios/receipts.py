"""Receipts: warm generation (snapshot, number, render, Factur-X, store) against a raw
WeasyPrint render of the same HTML in the same process, and the ZIP export rate.

Runs devtools/bench/receipts_run.py in a process of its own with the bench's environment
(production settings, the throwaway database, storage under the bench's work directory).
BENCH_RECEIPTS_ROUNDS (default 60) sets the measured generations, BENCH_RECEIPTS_EXPORT (default
10,000) the receipts exported. Targets: at most 1.5x the raw render in p50 and p95.
"""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.bench.harness import ROOT, Result

RAW = "receipt: raw WeasyPrint render (same HTML)"
OURS = "receipt: generate (issue, render, Factur-X, store)"
EXPORT = "receipts: ZIP export with CSV index"


def run(bench) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "devtools.bench.receipts_run"],
        cwd=ROOT,
        env=bench.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(output.strip().splitlines()[-1])
    gen, export = data["generation"], data["export"]
    bench.results[RAW] = Result(
        name=RAW,
        requests_per_second=1000 / gen["raw_p50"],
        p50_ms=gen["raw_p50"],
        p99_ms=float("nan"),
        non_2xx=0,
        baseline=RAW,
        notes=f"p95 {gen['raw_p95']:.1f} ms ({gen['rounds']} warm renders, req/s = renders/s)",
    )
    p50, p95 = gen["ours_p50"] / gen["raw_p50"], gen["ours_p95"] / gen["raw_p95"]
    bench.results[OURS] = Result(
        name=OURS,
        requests_per_second=1000 / gen["ours_p50"],
        p50_ms=gen["ours_p50"],
        p99_ms=float("nan"),
        non_2xx=0,
        baseline=RAW,
        ratio=p50,
        notes=(
            f"p95 {gen['ours_p95']:.1f} ms; p50 {p50:.2f}x and p95 {p95:.2f}x of the raw render "
            "(target <= 1.5x)"
        ),
    )
    bench.results[EXPORT] = Result(
        name=EXPORT,
        requests_per_second=export["per_second"],
        p50_ms=float("nan"),
        p99_ms=float("nan"),
        non_2xx=0,
        baseline=EXPORT,
        notes=(
            f"{export['documents']} documents in {export['seconds']:.1f} s "
            f"({export['per_second']:.0f} documents/s, ZIP {export['zip_mb']:.0f} MB)"
        ),
    )
