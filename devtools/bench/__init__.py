"""`make bench`: throughput and latency of the portal's hot paths, as ratios to baselines measured
in the same run against the same gunicorn server.

The harness starts a throwaway embedded Postgres and Redis, migrates a bench database, and runs
gunicorn (sync workers, production settings, persistent DB connections) with the bench's own
URLconf (devtools/bench/urls.py: a bare view and the lead baseline) in front of the portal's.
Each module in devtools/bench/scenarios/ exposes

    def run(bench: Bench) -> list[Result]

and uses `bench.wrk(...)` to drive load with wrk from 127.0.0.1 only. Results are printed as a
table with ratios to the bare view (and to any other baseline a scenario names).
"""
