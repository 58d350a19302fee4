"""/healthz: one Postgres round trip and one broker connection per request."""


def run(bench) -> None:
    bench.wrk("healthz (db + broker check)", "/healthz")
