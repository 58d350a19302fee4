"""The finance dashboard for 12 months of 1,000,000 payments against `SELECT count(*)` over the
same rows, and the payments CSV export against Postgres' `COPY … TO STDOUT` of the same columns
(devtools/bench/finance_report.py). Aims: the dashboard at most 15x the count, the export at
least 0.2x COPY's rows per second, with under 50 MB peak memory growth.

The figures are not requests per second: for the dashboard the req/s column shows 1 / the
view's time, p50 the view in ms and p99 the count in ms; for the export it shows rows per
second, p50 the export's seconds and p99 COPY's seconds. The ratio is against the baseline
(for the export: the export's rate / COPY's)."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.bench.harness import ROOT, Result


def run(bench) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "devtools.bench.finance_report"],
        cwd=ROOT,
        env=bench.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    seeded = next(r for r in rows if "seeded" in r)
    print(
        f"bench: finance seeded {seeded['seeded']:,} payments in {seeded['seconds']} s", flush=True
    )
    dash = next(r for r in rows if r.get("figure") == "dashboard")
    name = f"finance dashboard, 12 months of {dash['rows']:,} payments"
    bench.results[name] = Result(
        name=name,
        requests_per_second=1000 / dash["dashboard_ms"],
        p50_ms=dash["dashboard_ms"],
        p99_ms=dash["count_ms"],
        non_2xx=0,
        baseline="SELECT count(*) of the same rows",
        ratio=dash["ratio"],
        notes=f"aim at most 15x; median of {dash['rounds']}",
    )
    export = next(r for r in rows if r.get("figure") == "export")
    name = f"payments CSV export, {export['rows']:,} rows"
    bench.results[name] = Result(
        name=name,
        requests_per_second=export["export_rows_s"],
        p50_ms=export["rows"] / export["export_rows_s"] * 1000,
        p99_ms=export["rows"] / export["copy_rows_s"] * 1000,
        non_2xx=0,
        baseline="COPY … TO STDOUT of the same columns",
        ratio=export["ratio"],
        notes=f"COPY {export['copy_rows_s']:,} rows/s; peak memory growth "
        f"{export['peak_growth_mb']} MB (aim < 50); {export['export_mb']} MB of CSV; "
        f"aim at least 0.2x; median of {export['rounds']}",
    )
