"""`make bench` mounts its baselines on URLs of its own: the production URLconf has none."""

import importlib
import pkgutil

import pytest
from django.urls import Resolver404, resolve

import devtools.bench.scenarios
from devtools.bench import views

BENCH_PATHS = {
    "/bench/bare/": views.bench_bare,
    "/bench/lead-baseline/": views.bench_lead_baseline,
    "/bench/webhook-minimal/": views.bench_webhook_minimal,
}


@pytest.mark.parametrize("path", sorted(BENCH_PATHS))
def test_the_bench_serves_its_baselines_and_production_does_not(path):
    assert resolve(path, urlconf="devtools.bench.urls").func is BENCH_PATHS[path]
    with pytest.raises(Resolver404):
        resolve(path, urlconf="config.urls")


def test_the_bench_serves_every_production_url_too():
    assert resolve("/start/", urlconf="devtools.bench.urls").func is resolve("/start/").func


def test_every_scenario_imports():
    names = [m.name for m in pkgutil.iter_modules(devtools.bench.scenarios.__path__)]
    assert {"leads", "webhooks"} <= set(names)
    for name in names:
        module = importlib.import_module(f"devtools.bench.scenarios.{name}")
        assert callable(getattr(module, "run", None)), name
