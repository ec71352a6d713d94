"""DMN boxed expressions beyond tables and literals: contexts, invocations, lists, relations and
conditionals (DMN 1.5 §10.2). Reading turns the XML into these small records; evaluation is
`evaluate_boxed`, which calls back into the decision run for nested bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.feel import Function
from engine.feel.evaluator import Scope

#: the boxed expression elements a body may be, besides decisionTable and literalExpression
BOXED = ("context", "invocation", "list", "relation", "conditional")


@dataclass
class BoxedContext:
    """Entries evaluated in order, each seeing the ones before; an entry without a name is the result."""

    entries: list[tuple[str | None, Any]]


@dataclass
class Invocation:
    """A call of a business knowledge model (or any function) by name, with named bindings."""

    callee: str
    bindings: list[tuple[str, Any]]


@dataclass
class BoxedList:
    items: list[Any]


@dataclass
class Relation:
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Conditional:
    condition: Any
    then: Any
    otherwise: Any


Body = Callable[[Any, Scope], Any]


def evaluate_boxed(box: Any, scope: Scope, body: Body) -> Any:
    """The value of a boxed expression; `body(part, scope)` evaluates each nested part."""
    if isinstance(box, BoxedContext):
        result: dict[str, Any] = {}
        inner = scope.child(result)
        for name, part in box.entries:
            value = body(part, inner)
            if name is None:
                return value
            result[name] = value
        return result
    if isinstance(box, Invocation):
        function = scope.lookup(box.callee)
        if not isinstance(function, Function):
            return None
        return function.invoke([], {name: body(part, scope) for name, part in box.bindings})
    if isinstance(box, BoxedList):
        return [body(item, scope) for item in box.items]
    if isinstance(box, Relation):
        return [dict(zip(box.columns, (body(cell, scope) for cell in row), strict=False)) for row in box.rows]
    if isinstance(box, Conditional):
        return body(box.then if body(box.condition, scope) is True else box.otherwise, scope)
    return None
