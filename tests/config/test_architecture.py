"""The house rules about who imports whom (DESIGN.md §2b, STYLE.md), read from the source with
`ast`: only the gateway imports `stripe`, and a lower app never imports a higher one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# DESIGN.md §2b: an app imports only from the apps below it (config names every app only in its
# URLconf, as strings).
FLOORS = {
    "config": 0,
    "leads": 1,
    "payments": 2,
    "checkout": 3,
    "receipts": 4,
    "dunning": 4,
    "reporting": 5,
}


def _modules(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in a module, at any depth (a lazy import counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_only_the_gateway_imports_stripe():
    gateway = ROOT / "payments" / "gateway"
    outside = [
        f"{path.relative_to(ROOT)}:{line}"
        for app in FLOORS
        for path in _modules(app)
        for line, module in _imports(path)
        if module.split(".")[0] == "stripe" and gateway not in path.parents
    ]
    assert outside == []
    # The gateway's objects are plain Python, so they can be read without the SDK.
    assert not [m for _, m in _imports(gateway / "objects.py") if m.split(".")[0] == "stripe"]


def test_a_lower_app_never_imports_a_higher_one():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for app, floor in FLOORS.items()
        for path in _modules(app)
        for line, module in _imports(path)
        if FLOORS.get(module.split(".")[0], -1) > floor
    ]
    assert upward == []
