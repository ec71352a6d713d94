"""Fitness checks on the layout: no import cycles, engine below web and the CLI, SQL only in engine, small modules.

The import graph is read from the source with `ast` (nothing is imported): every `import` counts,
relative ones resolved, including imports inside functions and under `if TYPE_CHECKING:`, because a
type-only back-import is still a dependency the other way round.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "web", "workflows", "cli")
MAX_LINES = 400
SQL_BUILDERS = frozenset({"select", "insert", "update", "delete", "text"})
SESSION_METHODS = frozenset({"execute", "scalars", "scalar", "add", "delete", "query"})
#: Calls whose `with ... as name` target is a database session (`db.transaction()`, `db.reading()`...).
SESSION_OPENERS = frozenset({"transaction", "reading", "begin", "session", "Session"})

Edge = tuple[str, int]  # (file relative to the root, line) of one import
Graph = dict[str, dict[str, list[Edge]]]


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Map each dotted module name of `packages` under `root` to its file."""
    files: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def _base_of(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) `from ... import` names."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _known_prefix(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of dotted `name` that is one of our modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Yield (imported module, line) for each import of one of `known` anywhere in `path`."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [_known_prefix(alias.name, known) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, is_package, node)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else _known_prefix(base, known)
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target is not None and target != module:
                yield target, node.lineno


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Graph:
    """module -> imported module -> where (file, line) it is imported."""
    files = module_files(root, packages)
    graph: Graph = {name: {} for name in files}
    for name, path in files.items():
        where = str(path.relative_to(root))
        for target, line in imports_of(name, path, files):
            graph[name].setdefault(target, []).append((where, line))
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's components with more than one module (our modules never import themselves)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_path(graph: Graph, start: str, goal: str, within: set[str]) -> list[str]:
    """Breadth-first path start -> goal using only modules in `within` (one exists inside a component)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for succ in sorted(graph[node]):
            if succ in within and succ not in previous:
                previous[succ] = node
                queue.append(succ)
    path = [goal]
    while (step := previous[path[-1]]) is not None:
        path.append(step)
    return path[::-1]


def cycles(graph: Graph) -> list[list[str]]:
    """For each import inside a cycle, the shortest cycle through it (each cycle once, as a closed path)."""
    result: dict[tuple[str, ...], list[str]] = {}
    for component in strongly_connected(graph):
        members = set(component)
        for source in component:
            for target in sorted(set(graph[source]) & members):
                loop = [source, *_shortest_path(graph, target, source, members)]
                turn = loop.index(min(loop[:-1]))
                key = tuple(loop[turn:-1] + loop[:turn])
                result.setdefault(key, [*key, key[0]])
    return sorted(result.values())


def describe_cycle(graph: Graph, loop: list[str]) -> str:
    """`a -> b -> a` followed by where each import is written."""
    steps = [f"    {graph[a][b][0][0]}:{graph[a][b][0][1]} imports {b}" for a, b in pairwise(loop)]
    return "\n".join([" -> ".join(loop), *steps])


def layer_violations(graph: Graph, lower: str, forbidden: Iterable[str]) -> list[str]:
    """Imports from package `lower` of any module in the `forbidden` packages."""
    banned = tuple(forbidden)
    return [
        f"{file}:{line}: {source} imports {target}"
        for source, targets in sorted(graph.items())
        if source.split(".")[0] == lower
        for target, places in sorted(targets.items())
        if target.split(".")[0] in banned
        for file, line in places
    ]


class _SqlFinder(ast.NodeVisitor):
    """Collects SQL construction: sqlalchemy statement builders imported or used, and session queries."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.sqlalchemy_aliases: set[str] = set()
        self.sessions: list[set[str]] = [set()]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "sqlalchemy":
                self.sqlalchemy_aliases.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if (node.module or "").split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in SQL_BUILDERS:
                    self.found.append((node.lineno, f"imports {alias.name} from {node.module}"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.sqlalchemy_aliases and node.attr in SQL_BUILDERS:
            self.found.append((node.lineno, f"uses {node.value.id}.{node.attr}"))
        self.generic_visit(node)

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        typed = {
            arg.arg for arg in arguments if arg.annotation is not None and "Session" in ast.unparse(arg.annotation)
        }
        self.sessions.append(self.sessions[-1] | typed)
        self.generic_visit(node)
        self.sessions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scope

    def visit_withitem(self, node: ast.withitem) -> None:
        call = node.context_expr
        if isinstance(call, ast.Call) and isinstance(node.optional_vars, ast.Name):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name in SESSION_OPENERS:
                self.sessions[-1].add(node.optional_vars.id)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in SESSION_METHODS:
            receiver = func.value.attr if isinstance(func.value, ast.Attribute) else getattr(func.value, "id", "")
            if receiver in self.sessions[-1] or "session" in receiver.lower():
                self.found.append((node.lineno, f"calls {ast.unparse(func)}()"))
        self.generic_visit(node)


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place `source` builds or runs SQL itself."""
    finder = _SqlFinder()
    finder.visit(ast.parse(source))
    return sorted(finder.found)


# --- the checks on Waypoint itself ---------------------------------------------------------------


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, f"{len(found)} import cycle(s):\n" + "\n".join(describe_cycle(graph, loop) for loop in found)


def test_engine_imports_neither_web_nor_cli() -> None:
    assert layer_violations(import_graph(), "engine", ("web", "cli")) == []


def test_workflows_import_neither_web_nor_cli() -> None:
    assert layer_violations(import_graph(), "workflows", ("web", "cli")) == []


def test_web_does_not_import_the_cli() -> None:
    assert layer_violations(import_graph(), "web", ("cli",)) == []


@pytest.mark.parametrize("package", ["web", "cli", "workflows"])
def test_no_sql_outside_engine(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in module_files(ROOT, [package]).values()
        for line, what in sql_in(path.read_text(encoding="utf-8"))
    ]
    assert found == [], f"{package} builds SQL (ask an engine query module instead):\n" + "\n".join(found)


def test_only_engine_imports_spiffworkflow_or_lxml() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in ("web", "workflows", "cli")
        for path in module_files(ROOT, [package]).values()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and {name.split(".")[0] for name in _imported_names(node)} & {"SpiffWorkflow", "lxml"}
    ]
    assert found == [], "BPMN and XML belong to the engine: " + ", ".join(found)


def _imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if not node.level else []
    return [alias.name for alias in node.names]


def test_production_modules_stay_small() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for name, path in module_files(ROOT, PACKAGES).items()
        if not name.startswith("engine.migrations")
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines: {too_long}"


# --- the checkers catch what they claim to -------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source, encoding="utf-8")


def test_graph_counts_relative_local_and_type_checking_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "low/__init__.py": "from .core import Thing\n",
            "low/core.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from high.view import show\n",
            "low/sub/__init__.py": "",
            "low/sub/leaf.py": "def f():\n    from ..core import Thing\n    import high\n",
            "high/__init__.py": "",
            "high/view.py": "from low import sub\nfrom low.sub import leaf\nimport low.sub.leaf as alias\n",
        },
    )
    graph = import_graph(tmp_path, ["low", "high"])

    assert set(graph["low"]) == {"low.core"}
    assert graph["low.core"] == {"high.view": [("low/core.py", 3)]}
    assert set(graph["low.sub.leaf"]) == {"low.core", "high"}
    assert set(graph["high.view"]) == {"low.sub", "low.sub.leaf"}
    assert layer_violations(graph, "low", ["high"]) == [
        "low/core.py:3: low.core imports high.view",
        "low/sub/leaf.py:3: low.sub.leaf imports high",
    ]


def test_cycles_are_reported_as_closed_paths() -> None:
    here = [("x.py", 1)]
    graph: Graph = {
        "a": {"b": here},
        "b": {"c": here, "a": here},
        "c": {"a": here},
        "d": {"a": here},
        "e": {"f": here},
        "f": {"e": here},
    }

    assert cycles(graph) == [["a", "b", "a"], ["a", "b", "c", "a"], ["e", "f", "e"]]
    assert describe_cycle(graph, ["e", "f", "e"]) == "e -> f -> e\n    x.py:1 imports f\n    x.py:1 imports e"
    assert cycles({"a": {"b": here}, "b": {}}) == []


def test_sql_finder_sees_builders_and_session_calls_only() -> None:
    source = """
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

def view(db, seen):
    seen.add(1)
    with db.transaction() as s:
        s.scalars(select(User))
        s.add(User())
    with open("f") as s2:
        s2.execute()

def helper(session: Session, other):
    session.execute(sa.text("select 1"))
    other.delete()
    g.db_session.query(User)
"""
    assert sql_in(source) == [
        (3, "imports select from sqlalchemy"),
        (9, "calls s.scalars()"),
        (10, "calls s.add()"),
        (15, "calls session.execute()"),
        (15, "uses sa.text"),
        (17, "calls g.db_session.query()"),
    ]
