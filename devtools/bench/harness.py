from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
    remove_tree,
    stop_process,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent.parent
LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    baseline: str = "bare view"
    notes: str = ""
    # Set when the ratio is not this run's req/s over the baseline's (e.g. a median of rounds).
    ratio: float | None = None


@dataclass
class Bench:
    base_url: str
    env: dict[str, str]
    duration: int
    connections: int
    threads: int
    workdir: Path
    results: dict[str, Result] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def wrk(
        self,
        name: str,
        path: str,
        *,
        lua: Path | None = None,
        lua_args: list[str] | None = None,
        baseline: str = "bare view",
        notes: str = "",
        connections: int | None = None,
        duration: int | None = None,
    ) -> Result:
        """Drive `path` with wrk (loopback only, bounded by duration) and parse its summary."""
        args = [
            "wrk",
            f"-t{self.threads}",
            f"-c{connections or self.connections}",
            f"-d{duration or self.duration}s",
            "--latency",
            "--timeout",
            "5s",
        ]
        if lua:
            args += ["-s", str(lua)]
        args.append(self.base_url + path)
        if lua_args:
            args += ["--", *lua_args]
        output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        result = Result(
            name=name,
            requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            p50_ms=_latency(output, "50%"),
            p99_ms=_latency(output, "99%"),
            non_2xx=int(m.group(1))
            if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output))
            else 0,
            baseline=baseline,
            notes=notes,
        )
        self.results[name] = result
        return result


def _latency(output: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def start_stack(workdir: Path) -> tuple[EmbeddedPostgres, EmbeddedRedis, dict[str, str]]:
    pg = EmbeddedPostgres(workdir / "pg", free_port(), durable=False)
    pg.start()
    pg.create_database("portal_bench")
    redis = EmbeddedRedis(workdir / "redis", free_port(), durable=False)
    redis.start()
    env = {
        **os.environ,
        # Production settings with the bench's own URLs (the baselines).
        "DJANGO_SETTINGS_MODULE": "devtools.bench.settings",
        "DJANGO_SECRET_KEY": "bench-only-" + "k9" * 30,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": pg.url("portal_bench"),
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1),
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench_secret",
        "DEFAULT_FROM_EMAIL": "Bench <bench@example.com>",
        # Production settings require the seller printed on receipts; PDFs go to the work dir.
        "SELLER_LEGAL_NAME": "Bench Seller Ltd",
        "SELLER_ADDRESS": "1 Bench Street",
        "SELLER_POSTCODE": "EC1A 1AA",
        "SELLER_CITY": "London",
        "SELLER_COUNTRY": "GB",
        "SELLER_TAX_ID": "GB000000000",
        "SELLER_SUPPORT_EMAIL": "bench@example.com",
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        # One loopback client posts hundreds of leads a second; the limiter must count, not
        # refuse (devtools/bench/scenarios/leads.py).
        "LEADS_RATE_LIMIT_PER_IP": "1000000000",
        "LEADS_RATE_LIMIT_PER_EMAIL": "1000000000",
        "DJANGO_STATIC_ROOT": str(workdir / "static"),
        "LOG_LEVEL": "ERROR",
        "PYTHONUNBUFFERED": "1",
    }
    return pg, redis, env


def main() -> int:
    from devtools.bench import scenarios

    duration = int(os.environ.get("BENCH_DURATION", "10"))
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    os.chmod(workdir, 0o755)  # noqa: S103 (Postgres runs as its own user)
    pg = redis = server = None
    try:
        pg, redis, env = start_stack(workdir)
        port = free_port()
        bench = Bench(
            base_url=f"http://127.0.0.1:{port}",
            env=env,
            duration=duration,
            connections=32,
            threads=2,
            workdir=workdir,
        )
        print("bench: migrating a throwaway database", flush=True)
        bench.manage("migrate", "--noinput")
        bench.manage("collectstatic", "--noinput")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--workers",
                os.environ.get("BENCH_WORKERS", "2"),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        wait_for_port(port, timeout=30, process=server)
        time.sleep(1)
        print(f"bench: gunicorn sync -w2, wrk -t2 -c32 -d{duration}s, loopback", flush=True)
        bench.wrk("warm-up", "/bench/bare/", duration=2)
        bench.results.pop("warm-up")
        bench.wrk("bare view", "/bench/bare/")
        for scenario in scenarios.all_scenarios():
            print(f"bench: {scenario.__name__.rsplit('.', 1)[-1]}", flush=True)
            scenario.run(bench)
        _report(bench)
    finally:
        stop_process(server)
        if redis:
            redis.stop()
        if pg:
            pg.stop()
        remove_tree(workdir)
    return 0


def _report(bench: Bench) -> None:
    print()
    print(f"{'scenario':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  ratio")
    for result in bench.results.values():
        base = bench.results.get(result.baseline)
        ratio = ""
        if result.ratio is not None:
            ratio = f"{result.ratio:.2f}x of {result.baseline}"
        elif base and result is not base:
            ratio = f"{result.requests_per_second / base.requests_per_second:.2f}x of {base.name}"
        print(
            f"{result.name:44} {result.requests_per_second:9.0f} {result.p50_ms:8.1f} "
            f"{result.p99_ms:8.1f} {result.non_2xx:8d}  {ratio}"
        )
        if result.notes:
            print(f"{'':44} {result.notes}")
