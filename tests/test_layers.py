"""The layering rules, executable: import-linter's contracts hold, and no workbench modules import in a cycle."""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    """`lint-imports` keeps every contract in pyproject.toml's [tool.importlinter]."""
    lint = Path(sys.executable).with_name("lint-imports")
    # --no-cache: a test run should leave no .import_linter_cache behind in the checkout.
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative so a deep import chain cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(edges.get(node, ())))))

    for root in sorted(edges):
        if root in index:
            continue
        work: list = []
        enter(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    enter(child)
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = [stack.pop()]
                    while component[-1] != node:
                        component.append(stack.pop())
                    on_stack.difference_update(component)
                    found.append(sorted(component))
    return found


def shortest_cycle(start: str, members: set[str], edges: dict[str, set[str]]) -> list[str] | None:
    """The shortest import chain from `start` back to itself, staying inside its component."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges.get(node, set()) & members):
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return chain[::-1] + [start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    return None


def test_no_import_cycles_among_workbench_modules() -> None:
    """No workbench module reaches itself through imports, function-level imports included."""
    graph = grimp.build_graph("workbench", include_external_packages=False, cache_dir=None)
    # Every edge counts, a package __init__ importing its own submodules too: a submodule that imports
    # its package back only works by the accident of import order.
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles: set[tuple[str, ...]] = set()
    for component in components(edges):
        members = set(component)
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue
        for start in component:  # one shortest cycle through each member, so every knot shows
            cycle = shortest_cycle(start, members, edges)
            if cycle:
                ring = cycle[:-1]
                first = ring.index(min(ring))  # the same cycle from another member is a rotation of it
                ring = ring[first:] + ring[:first]
                cycles.add(tuple(ring + [ring[0]]))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in sorted(cycles))


def test_the_textual_contract_lists_every_module_outside_the_ui() -> None:
    """A new top-level module is covered by "only the UI imports Textual" (the contract lists them by name)."""
    import pkgutil
    import tomllib

    import workbench

    config = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == "only the UI imports Textual")
    modules = {f"workbench.{m.name}" for m in pkgutil.iter_modules(workbench.__path__)} - {"workbench.ui"}
    assert modules == set(contract["source_modules"]), sorted(modules ^ set(contract["source_modules"]))
