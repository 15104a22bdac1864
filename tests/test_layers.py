"""Imports in src/crmsync point one way: records and settings below, planning on top.

Only module-level imports count (a function-level import is a late edge and is
listed in LATE, each with why); the test fails on any import cycle among them.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crmsync"

# Function-level imports of crmsync modules allowed, with why.
LATE: dict[tuple[str, str], str] = {}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level, function-level) crmsync modules imported by the file."""
    tree = ast.parse(path.read_text("utf-8"))
    top: set[str] = set()
    late: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crmsync"):
            names = {node.module} | {
                f"{node.module}.{a.name}"
                for a in node.names
                if (SRC.parent / f"{node.module}.{a.name}".replace(".", "/"))
                .with_suffix(".py")
                .exists()
            }
        elif isinstance(node, ast.Import):
            names = {a.name for a in node.names if a.name.startswith("crmsync")}
        else:
            continue
        parents = [p for p in ast.walk(tree) if p is not node and node in ast.walk(p)]
        if any(_type_checking(p) for p in parents):
            continue  # for the type checker only: no import at run time
        in_function = any(isinstance(p, ast.FunctionDef | ast.AsyncFunctionDef) for p in parents)
        (late if in_function else top).update(names)
    return top, late


GRAPH: dict[str, set[str]] = {}
LATE_FOUND: set[tuple[str, str]] = set()
for file in sorted(SRC.rglob("*.py")):
    name = _module(file)
    top, late = _imports(file)
    GRAPH[name] = {m for m in top if m not in (name, "crmsync")}
    LATE_FOUND |= {(name, m) for m in late}


def test_module_level_imports_have_no_cycle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)


def test_only_the_listed_late_imports_remain() -> None:
    """Late imports of optional extras (dask, httpx) are not crmsync modules and do not count."""
    assert set(LATE) >= LATE_FOUND, sorted(LATE_FOUND - set(LATE))


def test_the_bottom_layers_import_no_planning_code() -> None:
    for low in ("crmsync.fields", "crmsync.errors", "crmsync.settings", "crmsync.records"):
        assert GRAPH[low] <= {"crmsync.errors", "crmsync.fields", "crmsync.settings"}, low
