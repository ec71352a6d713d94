"""Values derived from personal fields stay personal: taint through a process's scripts.

A script that reads a personal value (a field the forms mark `x-sensitive` or `x-personal`, a
container holding such fields, a variable already derived from one) and assigns the result to
another variable makes that variable personal too: it is sealed at rest, masked on display,
logged when revealed and purged at retention like its source (`Classification.top`). The
analysis is static, over the Python source of every script, pre- and post-script of a version
(its called processes included), so it does not depend on where or how scripts run:

- reads count wherever they are: arguments to glue functions, comprehensions, f-strings,
  conditions; a string key or attribute that names a personal field (`x["passport_number"]`);
- implicit flows count: every assignment under an `if`, `while` or `for` whose test or loop
  reads a personal value is derived (copying a number digit by digit through `if` is caught);
- mutation counts: `x.append(v)`, `x[k] = v`, `x.attr = v` make `x` derived when `v` is;
- a multi-instance task over a personal collection makes its item and output collection personal;
- a business rule task whose decision (its required decisions, inputs and knowledge included)
  reads a personal value in any cell makes its outputs personal;
- `len(...)` is the one declassifier: a count says nothing about the values counted.

Containers the forms already classify field by field (`members`, `current_passport`) keep their
per-field classification when reassigned, so their other fields stay readable.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable, Iterator
from typing import Any

from engine.privacy.vault import Classification

#: calls whose result carries nothing of their arguments' values
DECLASSIFIERS = frozenset({"len"})
_MUTATORS = frozenset({"append", "extend", "insert", "update", "setdefault", "add", "__setitem__"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def classify_process(base: Classification, specs: Iterable[Any]) -> Classification:
    """`base` (what the forms declare) plus every variable the specs' scripts derive from it."""
    scripts: list[str] = []
    flows: list[tuple[frozenset[str], list[str]]] = []
    for spec in specs:
        for task_spec in getattr(spec, "task_specs", {}).values():
            scripts += [s for s in _scripts_of(task_spec) if s]
            for flow in (_loop_of(task_spec), _decision_of(task_spec)):
                if flow is not None:
                    flows.append(flow)
    derived = derived_names(scripts, base, flows)
    return base.with_top(derived) if derived else base


def derived_names(
    scripts: Iterable[str], base: Classification, flows: Iterable[tuple[frozenset[str], list[str]]] = ()
) -> frozenset[str]:
    """Top-level variables the scripts derive from personal values (not already classified);
    `flows` are (names read, names written) of the tasks that are not scripts."""
    sources = set(base.names) | set(base.containers) | set(base.top)
    keys = set(base.names) | {key for _, key in base.qualified}
    trees = [tree for tree in (_parse(s) for s in scripts) if tree is not None]
    tainted = set(sources)
    while True:  # to a fixpoint: scripts run in any order, loops run again
        before = len(tainted)
        for tree in trees:
            try:
                _Walker(tainted, keys).block(tree.body, False)
            except RecursionError:  # too deep to follow: everything it writes is personal
                tainted.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        for reads, writes in flows:
            if reads & tainted or reads & keys:
                tainted.update(writes)
        if len(tainted) == before:
            return frozenset(tainted - sources - base.containers)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the check refuses it; nothing runs


def _scripts_of(task_spec: Any) -> list[str]:
    return [getattr(task_spec, attr, None) or "" for attr in ("script", "prescript", "postscript")]


def _loop_of(task_spec: Any) -> tuple[frozenset[str], list[str]] | None:
    """({input collection}, [item, output item, output collection]) of a multi-instance task."""
    collection = getattr(task_spec, "data_input", None)
    if collection is None:
        return None
    names = [getattr(task_spec, a, None) for a in ("input_item", "output_item", "data_output")]
    return frozenset({collection.bpmn_id}), [n.bpmn_id for n in names if n is not None]


def _decision_of(task_spec: Any) -> tuple[frozenset[str], list[str]] | None:
    """(every name its cells read, the variables it writes) of a business rule task
    (engine/dmn/spiff.DecisionRunner: `decisions` and `key`)."""
    runner = getattr(task_spec, "engine", None)
    decisions, key = getattr(runner, "decisions", None), getattr(runner, "key", None)
    if decisions is None or key is None:
        return None
    found = decisions.find(key)
    if found is None:
        return None
    model, decision = found
    outputs = getattr(decision.body, "outputs", None)
    writes = [o.name.split(".")[0] for o in outputs] if outputs else [decision.name]
    reads: set[str] = set()
    pending, seen = [(model, decision)], set()
    while pending:
        model, node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for text in _texts(node):
            reads.update(_WORD.findall(text))
        for ref in getattr(node, "required_inputs", []):
            item = model.inputs.get(ref)
            reads.update(_WORD.findall(item.name) if item is not None else [])
        for ref in getattr(node, "required_decisions", []):
            required = decisions.find(ref)
            if required is not None:
                pending.append(required)
        for ref in getattr(node, "required_knowledge", []):
            if ref in model.knowledge:
                pending.append((model, model.knowledge[ref]))
    return frozenset(reads), writes


def _texts(node: Any) -> Iterator[str]:
    """Every expression text in a DMN model object (dataclasses all the way down)."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _texts(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        text = getattr(node, "text", None)
        if isinstance(text, str) and hasattr(node, "language"):
            yield text
        for f in dataclasses.fields(node):
            if f.name != "where":
                yield from _texts(getattr(node, f.name))


class _Walker:
    """One pass over a script, adding the variables it derives to `tainted`."""

    def __init__(self, tainted: set[str], keys: set[str]):
        self.tainted, self.keys = tainted, keys

    def block(self, body: list[ast.stmt], implicit: bool) -> None:
        for stmt in body:
            self.statement(stmt, implicit)

    def statement(self, stmt: ast.stmt, implicit: bool) -> None:
        for node in ast.walk(stmt):  # `(x := v)` anywhere
            if isinstance(node, ast.NamedExpr) and (implicit or self.reads(node.value)):
                self.taint(node.target)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if implicit or (stmt.value is not None and self.reads(stmt.value)):
                for target in targets:
                    self.taint(target)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            hot = implicit or self.reads(stmt.iter)
            if hot:
                self.taint(stmt.target)
            self.block(stmt.body, hot)
            self.block(stmt.orelse, hot)
        elif isinstance(stmt, (ast.If, ast.While)):
            hot = implicit or self.reads(stmt.test)
            self.block(stmt.body, hot)
            self.block(stmt.orelse, hot)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None and (implicit or self.reads(item.context_expr)):
                    self.taint(item.optional_vars)
            self.block(stmt.body, implicit)
        elif isinstance(stmt, ast.Try):
            for part in (stmt.body, stmt.orelse, stmt.finalbody, *[h.body for h in stmt.handlers]):
                self.block(part, implicit)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(self.reads(node) for node in ast.walk(stmt) if isinstance(node, ast.expr)):
                self.tainted.add(stmt.name)  # a helper that reads personal values returns them
            self.block(stmt.body, implicit)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.mutation(stmt.value, implicit)

    def mutation(self, call: ast.Call, implicit: bool) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _MUTATORS:
            args = [*call.args, *(k.value for k in call.keywords)]
            if implicit or any(self.reads(a) for a in args):
                self.taint(func.value)

    def taint(self, target: ast.expr) -> None:
        """Mark the variable(s) an assignment target writes to."""
        if isinstance(target, ast.Name):
            self.tainted.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.taint(element)
        elif isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
            self.taint(target.value)

    def reads(self, expr: ast.AST) -> bool:
        """Whether evaluating `expr` reads a personal value."""
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in DECLASSIFIERS:
            return False
        if isinstance(expr, ast.Name):
            return expr.id in self.tainted
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, str) and expr.value in self.keys
        if isinstance(expr, ast.Attribute) and expr.attr in self.keys:
            return True
        return any(self.reads(child) for child in ast.iter_child_nodes(expr))
