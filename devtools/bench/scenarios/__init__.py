import importlib
import os
import pkgutil


def all_scenarios():
    """Every scenario module in this package, in name order. BENCH_SCENARIOS (comma-separated
    names, e.g. "leads,webhooks") runs only those."""
    wanted = {name.strip() for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name}
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if wanted and info.name not in wanted:
            continue
        modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return modules
