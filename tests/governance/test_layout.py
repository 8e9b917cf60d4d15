"""The governance modules depend on each other one way: no import circle, and no import hidden
inside a function to get around one (apps.py imports at app-load time, which is allowed)."""

import ast
from pathlib import Path

import governance

PACKAGE = Path(governance.__file__).parent
MODULES = {path.stem: path for path in PACKAGE.glob("*.py")}


def _imports(path: Path, known=MODULES) -> list[tuple[str, bool]]:
    """(governance module imported, imported inside a function or method)."""
    tree = ast.parse(path.read_text())
    nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
        elif node.level == 0 and node.module == "governance":
            names = [alias.name for alias in node.names]
        elif node.level == 0 and (node.module or "").startswith("governance."):
            names = [node.module.split(".")[1]]
        else:
            continue
        found += [(name, id(node) in nested) for name in names if name in known]
    return found


def test_no_module_imports_another_inside_a_function():
    hidden = [(name, target) for name, path in MODULES.items() if name != "apps"
              for target, inside in _imports(path) if inside]
    assert hidden == []


def _circles(modules: dict[str, Path]) -> list[list[str]]:
    graph = {name: {target for target, _ in _imports(path, modules)} for name, path in modules.items()}
    state: dict[str, str] = {}
    circles = []

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return circles


def test_no_import_circle_between_governance_modules():
    assert _circles(MODULES) == []


def test_the_checks_see_a_circle_and_a_hidden_import(tmp_path):
    """The checks above can fail: two modules importing each other, one of them inside a
    function (the way the circle used to be hidden), are both reported."""
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from governance.a import y\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert _imports(modules["a"], modules) == [("b", False)]
    assert _imports(modules["b"], modules) == [("a", True)]
    assert _circles(modules) == [["a", "b", "a"]]
