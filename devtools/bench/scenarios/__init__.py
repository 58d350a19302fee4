import importlib
import pkgutil


def all_scenarios():
    """Every scenario module in this package, in name order."""
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return modules
