"""The layering of the code base: every import points down, and no import circle exists.

The floors, from the ground up: ``ground`` → ``schemas`` → ``pipelines`` | ``connectors`` →
``shardline`` (the top). A module may import its own package and any floor below it;
``pipelines`` and ``connectors`` never import each other. Every import counts, the ones inside
functions included (a function-level import hides a circle; it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: what each top-level package may import from the project, besides itself
ALLOWED: dict[str, frozenset[str]] = {
    "ground": frozenset(),
    "schemas": frozenset({"ground"}),
    "pipelines": frozenset({"ground", "schemas"}),
    "connectors": frozenset({"ground", "schemas"}),
    "shardline": frozenset({"ground", "schemas", "pipelines", "connectors"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (``a.b.c`` may be a module or a name in ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                targets.add(target)
    return targets


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _upward(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in sorted(graph.items()):
        floor = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != floor and other not in ALLOWED[floor]:
                wrong.append(f"{module} -> {target}")
    return wrong


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_package_is_seen() -> None:
    for package in ALLOWED:
        assert package in MODULES, f"{package}/__init__.py is missing"
    assert len(MODULES) > 50


def test_every_import_points_down() -> None:
    assert _upward(GRAPH) == []


def test_no_import_circle() -> None:
    assert _circles(GRAPH) == []


@pytest.mark.parametrize(
    ("graph", "upward", "circles"),
    [
        ({"ground.a": {"pipelines.b"}, "pipelines.b": set()}, ["ground.a -> pipelines.b"], []),
        ({"pipelines.a": {"connectors.b"}, "connectors.b": set()},
         ["pipelines.a -> connectors.b"], []),
        ({"shardline.a": {"pipelines.b"}, "pipelines.b": {"ground.c"}, "ground.c": set()}, [], []),
        ({"pipelines.a": {"pipelines.b"}, "pipelines.b": {"pipelines.c"},
          "pipelines.c": {"pipelines.a"}}, [], [["pipelines.a", "pipelines.b", "pipelines.c"]]),
    ],
)
def test_the_checks_catch_what_they_should(
    graph: dict[str, set[str]], upward: list[str], circles: list[list[str]]
) -> None:
    assert _upward(graph) == upward
    assert _circles(graph) == circles


def test_function_level_imports_count(tmp_path: Path) -> None:
    source = "def f():\n    from pipelines.sql import plan\n    return plan\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    assert "pipelines.sql.plan" in _imports("connectors.x", path)
