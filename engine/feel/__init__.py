"""FEEL, the DMN standard's expression language: parse and evaluate expressions and unary tests.

`evaluate("Monthly Salary * 12", {"Monthly Salary": 1000})` gives task data (12000);
`unary_test('[250..1000], > 5000', 300)` says whether a decision table cell matches its input.
`evaluate_value` and `satisfies` work on FEEL values (Decimal numbers, dates, ranges ...), as the
DMN engine needs. Syntax errors raise `FeelSyntaxError` (a ScriptError with code `feel_syntax`);
an evaluation over its size or step caps raises `FeelLimit`; anything else FEEL calls an error
is null, as the standard says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.feel import builtins_lists, builtins_time  # noqa: F401  (they register themselves)
from engine.feel.builtins import BUILTINS
from engine.feel.evaluator import Evaluator, Scope
from engine.feel.grammar import FeelSyntaxError, parse_expression, parse_tests
from engine.feel.values import FeelLimit, Function, Range, YearsMonths, to_feel, to_python

__all__ = [
    "FeelLimit",
    "FeelSyntaxError",
    "Function",
    "Range",
    "YearsMonths",
    "check_expression",
    "check_tests",
    "evaluate",
    "evaluate_value",
    "satisfies",
    "to_feel",
    "to_python",
    "unary_test",
]


def scope_of(context: Mapping[str, Any] | None, feel_values: bool = False) -> Scope:
    """A scope over task data (converted to FEEL values unless `feel_values`)."""
    frame = dict(context or {}) if feel_values else to_feel(dict(context or {}))
    return Scope([frame], BUILTINS)


def evaluate_value(expression: str, scope: Scope) -> Any:
    """The FEEL value of a textual expression in `scope`."""
    return Evaluator().run(parse_expression(expression), scope)


def satisfies(tests: str, value: Any, scope: Scope) -> bool:
    """Whether FEEL `value` satisfies the unary tests text (`-` and an empty text match anything)."""
    kind, tree = parse_tests(tests)
    if kind == "any" or tree is None:
        return True
    outcome = Evaluator().tests(tree, value, scope)
    if kind == "not":
        return outcome is False
    return outcome is True


def evaluate(expression: str, context: Mapping[str, Any] | None = None) -> Any:
    """A FEEL expression over task data, its value as task data (numbers int/float, dates ISO)."""
    return to_python(evaluate_value(expression, scope_of(context)))


def unary_test(test: str, value: Any, context: Mapping[str, Any] | None = None) -> bool:
    """Whether task-data `value` satisfies a FEEL unary tests text, names read from `context`."""
    return satisfies(test, to_feel(value), scope_of(context))


def check_expression(expression: str) -> None:
    """Raise FeelSyntaxError when `expression` is not a FEEL expression."""
    parse_expression(expression)


def check_tests(tests: str) -> None:
    """Raise FeelSyntaxError when `tests` is not a FEEL unary tests text."""
    parse_tests(tests)
