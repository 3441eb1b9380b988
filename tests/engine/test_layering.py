"""The import rules the design promises, read from the source: no circle of imports between
modules, and Ray, NVML and Textual each imported only where they belong."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "gpu", "jobs", "tui", "workloads")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, *, top_level: bool) -> set[str]:
    """What `module` imports: modules, and `module.name` for each name taken from one. With
    `top_level`, only the imports that run when it is imported (TYPE_CHECKING ones included:
    they are the circles a type checker sees); else every import, in functions too."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            if top_level:
                if isinstance(node, ast.If | ast.Try):
                    visit(node.body)
                    visit(getattr(node, "orelse", []))
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])
    visit(tree.body)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_module_imports_another_that_imports_it_back() -> None:
    """A module may use its own package's public face (`from engine.api import parse_quantity`
    inside engine/api/): that edge to the package's __init__ is how a package re-exports, not
    a circle between two modules. Every other import counts."""
    graph = {}
    for module in MODULES:
        edges = {m for m in _imports(module, top_level=True) if m in MODULES and m != module}
        graph[module] = {m for m in edges
                         if not (MODULES[m].name == "__init__.py" and module.startswith(m + "."))}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("library", "allowed"), [
    ("ray", "engine/runtime/"),
    ("pynvml", "gpu/nvml.py"),
    ("textual", "tui/"),
])
def test_each_edge_library_is_imported_only_where_it_belongs(library: str, allowed: str) -> None:
    offenders = sorted(
        str(path.relative_to(REPO)) for module, path in MODULES.items()
        if not str(path.relative_to(REPO)).startswith(allowed)
        and any(m == library or m.startswith(library + ".") for m in _imports(module, top_level=False)))
    assert offenders == []
