"""The code's shape, kept: the layers' contracts in pyproject.toml (import-linter) and no import cycle at all.

A wrong import fails here with its name: see CONTRIBUTING.md for what may import what.
"""

from __future__ import annotations

import os
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_layers_contracts_hold(capsys):
    os.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert code == 0, capsys.readouterr().out


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
    assert cycle_in(graph, modules) is None
