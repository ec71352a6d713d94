"""`waypoint check` for a DMN file: it reads, and every cell is valid in its language (FEEL by
the grammar, Python by the restricted script checker), each finding naming decision, rule and column."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from engine.dmn.boxed import BoxedContext, BoxedList, Conditional, Invocation, Relation
from engine.dmn.model import PYTHON, DecisionTable, Expression, Model
from engine.dmn.reader import DmnReadError, read_model
from engine.errors import ScriptError
from engine.feel import check_expression, check_tests
from engine.scripting import ScriptRejected, check_source


def _cells(model: Model) -> Iterator[tuple[Expression, bool]]:
    """Every expression of the model, and whether it is a unary tests text."""
    bodies = [d.body for d in model.decisions.values()] + [k.body for k in model.knowledge.values()]
    for item in model.types.values():
        if item.allowed is not None:
            yield item.allowed, True
    for body in bodies:
        yield from _walk(body)


def _walk(body: Any) -> Iterator[tuple[Expression, bool]]:
    """The expressions of one body (a literal, a table, or a boxed expression and its parts)."""
    if isinstance(body, (BoxedContext, Invocation, BoxedList, Relation, Conditional)):
        for part in _boxed_parts(body):
            yield from _walk(part)
    elif isinstance(body, Expression):
        yield body, False
    elif isinstance(body, DecisionTable):
        for clause in body.inputs:
            yield clause.expression, False
            if clause.allowed is not None:
                yield clause.allowed, True
        for output in body.outputs:
            yield from ((e, e is output.allowed) for e in (output.allowed, output.default) if e is not None)
        for rule in body.rules:
            yield from ((cell, True) for cell in rule.inputs)
            yield from ((cell, False) for cell in rule.outputs)


def _boxed_parts(body: Any) -> list[Any]:
    if isinstance(body, BoxedContext):
        return [part for _, part in body.entries]
    if isinstance(body, Invocation):
        return [part for _, part in body.bindings]
    if isinstance(body, BoxedList):
        return body.items
    if isinstance(body, Relation):
        return [cell for row in body.rows for cell in row]
    return [body.condition, body.then, body.otherwise]


def _problem(cell: Expression, tests: bool, names: set[str]) -> str | None:
    text = cell.text
    if not text or (tests and text == "-"):
        return None
    try:
        if cell.language != PYTHON:
            (check_tests if tests else check_expression)(text)
            return None
        source = text.replace("?", "value")
        if tests and "?" not in text:
            try:
                compile(source, "<cell>", "eval")
                source = f"(value) == ({source})"
            except SyntaxError:
                source = f"value {source}"
        check_source(source, "eval", names | {"value"})
    except ScriptError as exc:
        return str(exc)
    except SyntaxError as exc:
        return f"Python syntax error in '{text[:120]}': {exc.msg}"
    except ScriptRejected as exc:
        return f"refused in '{text[:120]}': {exc}"
    return None


def check_dmn(path: str, root: Any, names: Iterable[str] = ()) -> list[dict]:
    """The findings for one DMN file (empty: it reads and every cell is valid)."""
    try:
        model, findings = read_model(root, path)
    except DmnReadError as exc:
        return [{**f, "name": None, "severity": "error"} for f in exc.findings]
    out = [{**f, "name": f.get("element"), "severity": "error"} for f in findings]
    for cell, tests in _cells(model):
        problem = _problem(cell, tests, set(names))
        if problem:
            where = cell.where
            message = f"decision '{where.decision}'{where.text()}: {problem}"
            out.append(
                {
                    "file": path,
                    "line": where.line,
                    "element": where.element or where.decision,
                    "name": where.decision,
                    "message": message,
                    "severity": "error",
                }
            )
    return out
