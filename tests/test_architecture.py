"""The shape of the house: imports run one way, `swarmsite` → `identities` → `stores`, and no module
imports itself back through others. Every import counts, including ones inside functions and under
TYPE_CHECKING, because each is a dependency a reader must follow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("stores", "identities", "swarmsite")
# What each room may import from the others (its own room is always allowed).
ALLOWED = {"stores": set(), "identities": {"stores"}, "swarmsite": {"identities", "stores"}}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for room in ROOMS:
        for path in (root / room).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path, root)] = path
    return found


def imports_of(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import in the file; `from pkg import mod` names the module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield (sub if sub in known else node.module), node.lineno


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    modules = project_modules(root)
    known = set(modules)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, {})
        for target, line in imports_of(path, known):
            if target.split(".")[0] in ROOMS and target != name:
                # `import a.b.c` also runs a/__init__ and a/b/__init__, which are packages, not modules we write.
                edges.setdefault(target, line)
    return graph


def forbidden_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    wrong = []
    for source, edges in graph.items():
        room = source.split(".")[0]
        for target, line in edges.items():
            other = target.split(".")[0]
            if other != room and other not in ALLOWED[room]:
                wrong.append(f"{source}:{line} imports {target} ({room} may not import {other})")
    return sorted(wrong)


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_imports_run_from_swarmsite_to_identities_to_stores_only() -> None:
    assert forbidden_imports(import_graph()) == []


def test_no_module_imports_itself_back_through_others() -> None:
    assert import_cycles(import_graph()) == []


@pytest.fixture
def small_house(tmp_path: Path) -> Path:
    for room in ROOMS:
        (tmp_path / room).mkdir()
        (tmp_path / room / "__init__.py").write_text("")
    (tmp_path / "stores" / "contracts.py").write_text("X = 1\n")
    (tmp_path / "identities" / "core.py").write_text("from stores.contracts import X\n")
    (tmp_path / "swarmsite" / "views.py").write_text("from identities.core import X\n")
    return tmp_path


def test_the_checks_pass_a_house_that_keeps_the_direction(small_house: Path) -> None:
    graph = import_graph(small_house)
    assert forbidden_imports(graph) == [] and import_cycles(graph) == []


def test_a_store_importing_the_web_product_is_caught(small_house: Path) -> None:
    (small_house / "stores" / "contracts.py").write_text("def f():\n    from swarmsite.views import X\n")
    assert forbidden_imports(import_graph(small_house)) == [
        "stores.contracts:2 imports swarmsite.views (stores may not import swarmsite)"
    ]


def test_the_domain_importing_the_web_product_is_caught(small_house: Path) -> None:
    (small_house / "identities" / "core.py").write_text("from swarmsite import views\n")
    assert forbidden_imports(import_graph(small_house)) == [
        "identities.core:1 imports swarmsite.views (identities may not import swarmsite)"
    ]


def test_a_circle_inside_a_room_is_caught(small_house: Path) -> None:
    (small_house / "swarmsite" / "api.py").write_text("from swarmsite.views import X\n")
    (small_house / "swarmsite" / "views.py").write_text("from identities.core import X\nimport swarmsite.api\n")
    assert import_cycles(import_graph(small_house)) == [["swarmsite.api", "swarmsite.views"]]
