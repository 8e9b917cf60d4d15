"""The app layout holds: imports run one way between apps, and never in a circle between the
modules of an app. Read from the source with `ast`, so an import inside a function counts too.

    audit ← core ← registry ← governance ← abtests / monitoring / fairness / privacy / mlflow_api ← portal
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYER = {
    "audit": 0, "core": 1, "registry": 2, "governance": 3,
    "abtests": 4, "monitoring": 4, "fairness": 4, "privacy": 4, "mlflow_api": 4,
    "portal": 5,
}
APPS = sorted(LAYER)


def _modules(app: str):
    """(dotted name, path, is_package) of every module of `app`, migrations left out: they
    name other apps in strings, and Django orders them."""
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts:
            continue
        package = parts[-1] == "__init__"
        yield ".".join(parts[:-1] if package else parts), path, package


def _imports(name: str, path: Path, package: bool, *, top_level_only: bool):
    """(imported module, line, at module level) for each import in the file, relative imports
    resolved. `from x import y` yields x, and x.y too (y may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = set(map(id, tree.body))
    # module-level: the statements of the module, and of its top-level if/try blocks
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):
            top |= {id(n) for n in ast.walk(node)}
    base = name.split(".") if package else name.split(".")[:-1]
    for node in ast.walk(tree):
        at_top = id(node) in top
        if top_level_only and not at_top:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, at_top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module
            if node.module:
                yield module, node.lineno, at_top
            for alias in node.names:
                yield f"{module}.{alias.name}", node.lineno, at_top


def _app_of(module: str) -> str | None:
    head = module.split(".")[0]
    return head if head in LAYER else None


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_apps_below_it(app):
    """Every import, at module level or inside a function: an app may import its own modules and
    the apps of lower layers; none imports an app of its own layer (they plug into governance
    side by side) or above."""
    wrong = []
    for name, path, package in _modules(app):
        for module, line, _ in _imports(name, path, package, top_level_only=False):
            other = _app_of(module)
            if other and other != app and LAYER[other] >= LAYER[app]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as a path, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _graph(app: str, *, top_level_only: bool) -> dict[str, set[str]]:
    """Module → the modules of the same app it imports."""
    modules = {name: (path, package) for name, path, package in _modules(app)}
    graph = defaultdict(set)
    for name, (path, package) in modules.items():
        for module, _, _ in _imports(name, path, package, top_level_only=top_level_only):
            if module in modules and module != name:
                graph[name].add(module)
    return graph


@pytest.mark.parametrize("app", APPS)
def test_the_modules_of_an_app_import_each_other_without_a_circle(app):
    """Module-level imports between the modules of an app form no cycle: each module can be read
    knowing only what it imports."""
    cycle = _cycle(_graph(app, top_level_only=True))
    assert cycle is None, " → ".join(cycle)


# Apps whose services send tasks by name (`job_enqueue(task="app.tasks.name")`) and import their
# own modules at module level only; `apps.py` imports its gates in `ready()`, when apps are loaded.
ONE_WAY = ["abtests", "core", "fairness", "governance", "monitoring", "privacy", "registry"]


@pytest.mark.parametrize("app", ONE_WAY)
def test_no_import_inside_a_function_hides_a_circle(app):
    """Imports inside functions count too: no cycle between the app's modules even with them, and
    none of its own modules is imported inside a function but in `apps.py`."""
    cycle = _cycle(_graph(app, top_level_only=False))
    assert cycle is None, " → ".join(cycle)
    hidden = []
    for name, path, package in _modules(app):
        if path.name == "apps.py":
            continue
        for module, line, at_top in _imports(name, path, package, top_level_only=False):
            if not at_top and _app_of(module) == app:
                hidden.append(f"{path.relative_to(ROOT)}:{line} imports {module} inside a function")
    assert not hidden, "\n".join(sorted(set(hidden)))


def test_the_checks_see_a_circle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks can fail: a made-up app whose services import its tasks and its tasks the
    services, and whose module imports portal."""
    app = tmp_path / "demo"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "services.py").write_text("from .tasks import run\n")
    (app / "tasks.py").write_text("from . import services\n\ndef run():\n    from portal import settings\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setitem(LAYER, "demo", 4)
    assert _cycle(_graph("demo", top_level_only=True)) in (
        ["demo.services", "demo.tasks", "demo.services"], ["demo.tasks", "demo.services", "demo.tasks"])
    with pytest.raises(AssertionError, match="demo/tasks.py:4 imports portal"):
        test_an_app_imports_only_apps_below_it("demo")
