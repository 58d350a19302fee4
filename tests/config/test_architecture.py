"""The house rules about who imports whom (DESIGN.md §2b, STYLE.md), read from the source with
`ast`: only the gateway imports `stripe`, a lower app never imports a higher one, and the modules
of an app never import each other in a circle."""

import ast
from collections import defaultdict
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
    return [(line, module) for line, module, _names, _lazy in _import_statements(path)]


def _import_statements(path: Path) -> list[tuple[int, str, list[str], bool]]:
    """(line, module, names, inside a function) for every absolute import in a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, [], lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [a.name for a in child.names]
                found.append((child.lineno, child.module, names, lazy))
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _app_import_graph(app: str) -> dict[str, set[str]]:
    """Which of the app's modules each of its modules imports. A task module may import its
    services inside the task (they import the task to enqueue it): those edges do not count."""
    modules = {_module_name(path): path for path in _modules(app)}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for _line, module, names, lazy in _import_statements(path):
            if lazy and name.rpartition(".")[2] == "tasks":
                continue
            for target in [f"{module}.{n}" for n in names] or [module]:
                found = resolve(target)
                if found and found != name:
                    graph[name].add(found)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in the graph (as a path that ends where it starts), or []."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return []


def test_only_the_gateway_imports_stripe():
    gateway = ROOT / "payments" / "gateway.py"
    outside = [
        f"{path.relative_to(ROOT)}:{line}"
        for app in FLOORS
        for path in _modules(app)
        for line, module in _imports(path)
        if module.split(".")[0] == "stripe" and path != gateway
    ]
    assert outside == []
    # The gateway's objects and its budget are plain Python, so they can be read without the SDK.
    for helper in ("gateway_objects.py", "gateway_budget.py"):
        path = ROOT / "payments" / helper
        assert not [m for _, m in _imports(path) if m.split(".")[0] == "stripe"]


def test_a_lower_app_never_imports_a_higher_one():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for app, floor in FLOORS.items()
        for path in _modules(app)
        for line, module in _imports(path)
        if FLOORS.get(module.split(".")[0], -1) > floor
    ]
    assert upward == []


def test_the_modules_of_an_app_never_import_each_other_in_a_circle():
    cycles = {app: _cycle(_app_import_graph(app)) for app in FLOORS}
    assert {app: cycle for app, cycle in cycles.items() if cycle} == {}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) == []
