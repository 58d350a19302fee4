"""The lead path against its baseline, in the same run: POST /start/ and POST /api/v1/leads/
(validation, the limits and velocity counters in Redis, risk, readiness, the SLA clock, the lead
with its touchpoint and three consent records on the hash chain, intake enqueued on commit)
against /bench/lead-baseline/, which makes the same writes in the plainest ORM code.

Targets: throughput at least 0.7x of the baseline's, p99 at most 1.5x its p99. The ratio to the
bare view is printed too, for the record.

The machines are 2-core and noisy, so the paths are measured in BENCH_ROUNDS (default 3) rounds,
each the baseline, the form and the API back to back, and each figure is the median of the
rounds' ratios (each against its own round's baseline). Every request is a new email, so every
one takes the "new lead" path, which writes the most rows. No worker runs: intake's messages
wait in Redis.

The server must not rate-limit the load generator (one IP, hundreds of posts a second): the
harness environment raises LEADS_RATE_LIMIT_PER_IP and LEADS_RATE_LIMIT_PER_EMAIL for that.
The limiter still counts every request; it just never says no.
"""

import os
import re
import statistics
import time
import urllib.request
from http.cookies import SimpleCookie

from devtools.bench.harness import LUA_DIR, Result

BASELINE = "lead baseline (plain ORM writes)"


def _form_tokens(base_url: str) -> list[str]:
    with urllib.request.urlopen(f"{base_url}/start/", timeout=10) as response:
        html = response.read().decode()
        cookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie.load(header)
    csrf_cookie = cookie["csrftoken"].value

    def hidden(name: str) -> str:
        return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)

    return [
        f"csrftoken={csrf_cookie}",
        hidden("csrfmiddlewaretoken"),
        hidden("started"),
        hidden("consent_text_terms"),
        hidden("consent_text_marketing_email"),
        hidden("consent_text_sms"),
    ]


def _leads_count(bench) -> int:
    out = bench.manage("shell", "-c", "from leads.models import Lead; print(Lead.objects.count())")
    return int(out.strip().splitlines()[-1])


def _median_result(name: str, runs: list[Result], baselines: list[Result], notes: str) -> Result:
    """A row for `runs`, each judged against its own round's baseline: median throughput and p99
    ratios, and the median run's own figures."""
    throughput = [
        r.requests_per_second / b.requests_per_second for r, b in zip(runs, baselines, strict=True)
    ]
    p99 = [r.p99_ms / b.p99_ms for r, b in zip(runs, baselines, strict=True)]
    middle = sorted(runs, key=lambda r: r.requests_per_second)[len(runs) // 2]
    return Result(
        name=name,
        requests_per_second=middle.requests_per_second,
        p50_ms=middle.p50_ms,
        p99_ms=middle.p99_ms,
        non_2xx=sum(r.non_2xx for r in runs),
        baseline=BASELINE,
        ratio=statistics.median(throughput),
        notes=f"{notes}; p99 {statistics.median(p99):.2f}x of the baseline's (target <= 1.5x), "
        f"throughput target >= 0.7x; rounds: "
        + ", ".join(f"{t:.2f}x/{p:.2f}x" for t, p in zip(throughput, p99, strict=True)),
    )


def run(bench) -> None:
    # A routing rule and a Sales owner, so new leads are routed as in production.
    bench.manage("seed_demo")
    tokens = _form_tokens(bench.base_url)
    # The fill-time rule: the form must look older than LEADS_MIN_FILL_SECONDS.
    time.sleep(2.1)
    before = _leads_count(bench)
    bare, baselines, forms, apis = [], [], [], []
    for n in range(int(os.environ.get("BENCH_ROUNDS", "3"))):
        bare.append(bench.wrk(f"bare view (round {n + 1})", "/bench/bare/"))
        lua = LUA_DIR / "lead_form.lua"
        baselines.append(
            bench.wrk(
                f"{BASELINE} (round {n + 1})",
                "/bench/lead-baseline/",
                lua=lua,
                lua_args=["/bench/lead-baseline/", *tokens],
            )
        )
        forms.append(
            bench.wrk(
                f"lead form POST /start/ (round {n + 1})",
                "/start/",
                lua=lua,
                lua_args=["/start/", *tokens],
            )
        )
        apis.append(
            bench.wrk(
                f"lead API POST /api/v1/leads/ (round {n + 1})",
                "/api/v1/leads/",
                lua=lua,
                lua_args=["/api/v1/leads/", *tokens, "json"],
            )
        )
    for result in [*bare, *baselines, *forms, *apis]:
        bench.results.pop(result.name)
        print(
            f"bench:   {result.name:52} {result.requests_per_second:7.0f} req/s, "
            f"p99 {result.p99_ms:6.1f} ms",
            flush=True,
        )
    base = _median_result(BASELINE, baselines, baselines, "303; the same writes, plain ORM")
    base.baseline, base.ratio = (
        "bare view",
        statistics.median(
            b.requests_per_second / r.requests_per_second
            for b, r in zip(baselines, bare, strict=True)
        ),
    )
    base.notes = f"the baseline: {base.ratio:.2f}x of the bare view"
    bench.results[BASELINE] = base
    for name, runs, what in [
        ("lead form POST /start/ (new lead)", forms, "303"),
        ("lead API POST /api/v1/leads/ (new lead)", apis, "201"),
    ]:
        to_bare = statistics.median(
            r.requests_per_second / b.requests_per_second for r, b in zip(runs, bare, strict=True)
        )
        bench.results[name] = _median_result(
            name, runs, baselines, f"{what}; {to_bare:.2f}x of the bare view (not a target)"
        )
    created = _leads_count(bench) - before
    print(f"bench: leads created {created}", flush=True)
