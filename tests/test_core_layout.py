"""The routing core's shape: small modules, no import cycle, a fingerprint of its state only."""

from __future__ import annotations

import ast
from pathlib import Path

import router
from adapters.store.snapshots import code_fingerprint, state_module_paths
from router.core import ROUTING_STATE_MODULES

ROUTER = Path(router.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``router.*`` module a file imports, including type-checking-only imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("router"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("router"))
    out.discard("router")
    return out


def test_every_module_of_the_core_is_under_400_lines() -> None:
    long = {p.name: n for p in ROUTER.glob("*.py") if (n := len(p.read_text().splitlines())) >= 400}
    assert long == {}


def test_the_core_has_no_import_cycle() -> None:
    graph = {f"router.{p.stem}": _imports(p) for p in ROUTER.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for dep in sorted(graph.get(node, ())):
            visit(dep, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert cycles == []


def test_the_snapshot_fingerprint_covers_the_modules_that_define_routing_state_only() -> None:
    names = sorted(p.stem for p in state_module_paths())
    assert sorted(m.rpartition(".")[2] for m in ROUTING_STATE_MODULES) == names
    # Report labels, statistics and the supervisor view do not invalidate snapshots.
    for other in ("stats", "stats_model", "snapshot", "testing", "errors"):
        assert other not in names
    assert len(code_fingerprint()) == 64
