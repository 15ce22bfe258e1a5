"""The code's shape, kept: the layers' contracts in pyproject.toml (import-linter) and no import cycle at all.

A wrong import fails here with its name: see CONTRIBUTING.md for what may import what.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_the_layers_contracts_hold():
    """import-linter's own command, in a process of its own (it sets up logging as a command line tool does)."""
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def cycle_in(graph: grimp.ImportGraph, modules: set[str]) -> list[str] | None:
    """One import cycle among `modules`, as the chain of module names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module) & modules):
            if state.get(imported) == 1:
                return path[path.index(imported):] + [imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(modules):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_module_imports_another_in_a_cycle():
    """Counting imports made only for type checking and imports inside functions: the package is a DAG."""
    graph = grimp.build_graph("bot", exclude_type_checking_imports=False)
    modules = {m for m in graph.modules if m.startswith("bot.")}
    found = cycle_in(graph, modules)
    assert found is None, " -> ".join(found or [])
