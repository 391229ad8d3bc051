"""Imports between webapp's modules run one way: no module imports, however indirectly, one that
imports it back; and webapp never imports tasks (tasks send work to webapp, never the reverse).

Every import statement counts, at module level and inside functions (and under TYPE_CHECKING): an
import moved into a function to dodge a circular import is still a cycle between the two modules'
jobs. Importing `a.b.c` runs the `a` and `a.b` packages' __init__ first; that is not counted, only
the module named (`from a.b import c` names `a.b.c` when it is a module, else `a.b`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "webapp"

def _modules() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported_names(module: str, path: Path) -> list[tuple[str, str]]:
    """What one module's import statements name, relative imports made absolute, as pairs
    (the name, what it stands for if that is not a module): `from a import b` gives ("a.b", "a")."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.extend((alias.name, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.extend((f"{base}.{alias.name}", base) for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the webapp modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name, otherwise in _imported_names(module, path):
            target = name if name in modules else otherwise
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(group)
    return found


def _describe(group: set[str], graph: dict[str, set[str]]) -> str:
    edges = [f"{a} -> {b}" for a in sorted(group) for b in sorted(graph[a]) if b in group]
    return "\n  ".join(edges)


def test_the_walk_sees_module_and_function_level_imports():
    graph = import_graph()
    assert "webapp.groups.services" in graph["webapp.groups.invitations"]  # module level
    assert "webapp.organize.attendee_views" in graph["webapp.organize.views"]  # at the end of the module
    assert "webapp.outbox.services" in graph[PACKAGE]  # inside a function (the after-commit hook)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_module_of_webapp_imports_itself_back():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "Import cycles between webapp modules:\n  " + "\n\n  ".join(
        _describe(group, graph) for group in found)


def test_webapp_never_imports_tasks():
    offenders = [module for module, path in _modules().items()
                 if any(name.split(".")[0] == "tasks" for name, _ in _imported_names(module, path))]
    assert offenders == []
