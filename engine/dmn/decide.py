"""Evaluate DMN decisions: required decisions first, business knowledge models as functions,
decision tables under every hit policy, literal expressions; FEEL cells by engine/feel, Python
cells by the caller's restricted script engine.

A broken cell, a hit-policy violation or a value outside `inputValues`/`outputValues` raises a
DecisionError that names the file, the decision, and the rule and column where there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.dmn.boxed import evaluate_boxed
from engine.dmn.model import PYTHON, Decision, DecisionTable, Expression, InputData, Invocable, Model, Where
from engine.dmn.types import conform
from engine.errors import ScriptError, WaypointError
from engine.feel import Function, evaluate_value, satisfies
from engine.feel.builtins import BUILTINS
from engine.feel.evaluator import Scope
from engine.feel.grammar import parse_tests
from engine.feel.operators import equals
from engine.feel.values import NUMBERS, to_feel, to_python

#: (text, extra variables) -> value: how a Python cell is evaluated (the caller's script engine)
PythonEval = Callable[[str, Mapping[str, Any]], Any]
MAX_DEPTH = 32


class DecisionError(ScriptError):
    """A decision could not be made; the message names file, decision, rule and column."""


def _fail(where: Where, detail: str) -> DecisionError:
    return DecisionError("dmn_failed", file=where.file, decision=where.decision, where=where.text(), detail=detail)


class Decisions:
    """The decisions of a set of DMN models, found by id or by name."""

    def __init__(self, models: list[Model]) -> None:
        self.models = models
        self.by_key: dict[str, tuple[Model, Decision]] = {}
        for model in models:
            for decision in model.decisions.values():
                self.by_key.setdefault(decision.id, (model, decision))
                self.by_key.setdefault(decision.name, (model, decision))

    def find(self, key: str) -> tuple[Model, Decision] | None:
        return self.by_key.get(key)

    def evaluate(self, key: str, data: Mapping[str, Any], python: PythonEval | None = None) -> Any:
        """The FEEL value of decision `key` over `data` (its required decisions evaluated first)."""
        found = self.find(key)
        if found is None:
            raise WaypointError("dmn_no_decision", decision=key)
        return _Run(self, data, python).decision(*found, depth=0)

    def outputs(self, key: str, data: Mapping[str, Any], python: PythonEval | None = None) -> dict[str, Any]:
        """What a business rule task merges into its data: each output column's value by its name
        (a list of values for RULE ORDER, OUTPUT ORDER and COLLECT without an aggregation; dotted
        names make nested records), or a literal expression's value under the decision's name."""
        found = self.find(key)
        if found is None:
            raise WaypointError("dmn_no_decision", decision=key)
        model, decision = found
        value = to_python(self.evaluate(key, data, python))
        table = decision.body
        if not isinstance(table, DecisionTable):
            return {decision.name: value}
        names = [o.name for o in table.outputs]
        many = table.hit_policy in ("R", "O", "C") and not table.aggregation
        if len(names) == 1:
            return _nested({names[0]: value if value is not None or not many else []})
        if many:
            rows = value or []
            return _nested({name: [row.get(name) for row in rows] for name in names})
        return _nested({name: (value or {}).get(name) for name in names})


class _Run:
    """One evaluation: decisions already made are remembered."""

    def __init__(self, decisions: Decisions, data: Mapping[str, Any], python: PythonEval | None) -> None:
        self.decisions, self.data, self.python = decisions, data, python
        self.made: dict[str, Any] = {}

    def decision(self, model: Model, decision: Decision, depth: int) -> Any:
        if decision.id in self.made:
            return self.made[decision.id]
        if depth > MAX_DEPTH:
            raise _fail(Where(model.file, decision.name), "required decisions go round in a circle")
        frame: dict[str, Any] = {}
        for ref in decision.required_inputs:
            item = model.inputs.get(ref)
            if item is not None:
                frame[item.name] = self.input_value(model, item)
        for ref in decision.required_decisions:
            found = self.decisions.find(ref)
            if found is None:
                raise _fail(Where(model.file, decision.name), f"it requires decision '{ref}', which no file has")
            frame[found[1].name] = self.decision(*found, depth=depth + 1)
        for ref in decision.required_knowledge:
            bkm = model.knowledge.get(ref)
            if bkm is not None:
                frame[bkm.name] = self.function(model, bkm)
        scope = Scope([to_feel(dict(self.data)), frame], BUILTINS)
        where = Where(model.file, decision.name)
        value = self.body(decision.body, scope, where)
        value = conform(model, decision.type_ref, value)
        self.made[decision.id] = value
        return value

    def input_value(self, model: Model, item: InputData) -> Any:
        value = to_feel(self.data.get(item.name))
        return conform(model, item.type_ref, value)

    def function(self, model: Model, bkm: Invocable) -> Function:
        def run(*args: Any) -> Any:
            scope = Scope([dict(zip(bkm.params, args, strict=False))], BUILTINS)
            return self.body(bkm.body, scope, Where(model.file, bkm.name))

        return Function(tuple(bkm.params), run, bkm.name)

    def body(self, body: Any, scope: Scope, where: Where) -> Any:
        if body is None:
            return None
        if isinstance(body, DecisionTable):
            return _Table(self, body, scope, where).result()
        if isinstance(body, Expression):
            return self.value(body, scope)
        return evaluate_boxed(body, scope, lambda part, inner: self.body(part, inner, where))

    def value(self, expression: Expression, scope: Scope, extra: Mapping[str, Any] | None = None) -> Any:
        """A cell's value; errors come back naming the cell."""
        if not expression.text:
            return None
        try:
            if expression.language == PYTHON:
                return self.python_value(expression.text, extra or {})
            inner = scope.child(dict(extra)) if extra else scope
            return evaluate_value(expression.text, inner)
        except DecisionError:
            raise
        except (WaypointError, ArithmeticError, TypeError, ValueError, KeyError, NameError) as exc:
            raise _fail(expression.where, f"'{expression.text[:120]}': {exc}") from exc

    def python_value(self, text: str, extra: Mapping[str, Any]) -> Any:
        if self.python is None:
            raise ScriptError("feel_failed", detail="Python cells need the process's script engine")
        return to_feel(self.python(text, dict(extra)))

    def test(self, cell: Expression, value: Any, scope: Scope) -> bool:
        """Whether an input entry matches `value`."""
        text = cell.text
        if text in ("", "-"):
            return True
        try:
            if cell.language == PYTHON:
                return bool(self.python_value(_python_test(text), {"dmninputexpr": to_python(value)}))
            return satisfies(text, value, scope)
        except DecisionError:
            raise
        except (WaypointError, ArithmeticError, TypeError, ValueError, KeyError, NameError) as exc:
            raise _fail(cell.where, f"'{text[:120]}': {exc}") from exc


def _python_test(text: str) -> str:
    """An input entry as SpiffWorkflow reads it: `?` is the input; else `input == (cell)`, or
    `input <op> ...` for a cell that starts with an operator."""
    if "?" in text:
        return text.replace("?", "dmninputexpr")
    try:
        compile(text, "<cell>", "eval")
        return f"dmninputexpr == ({text})"
    except SyntaxError:
        return f"dmninputexpr {text}"


class _Table:
    """One decision table evaluation."""

    def __init__(self, run: _Run, table: DecisionTable, scope: Scope, where: Where) -> None:
        self.run, self.table, self.scope, self.where = run, table, scope, where

    def result(self) -> Any:
        table = self.table
        values = [self.run.value(clause.expression, self.scope) for clause in table.inputs]
        for clause, value in zip(table.inputs, values, strict=True):
            if clause.allowed is not None and value is not None and not self.allowed(clause.allowed, value):
                raise _fail(clause.allowed.where, f"the input {_show(value)} is not among its inputValues")
        hits = []
        for rule in table.rules:
            if all(self.run.test(cell, value, self.scope) for cell, value in zip(rule.inputs, values, strict=False)):
                hits.append((rule.number, [self.output(cell, i) for i, cell in enumerate(rule.outputs)]))
        if not hits:
            return self.default()
        return self.apply_policy(hits)

    def output(self, cell: Expression, index: int) -> Any:
        value = self.run.value(cell, self.scope)
        clause = self.table.outputs[index]
        if clause.allowed is not None and value is not None and not self.allowed(clause.allowed, value):
            raise _fail(cell.where, f"the output {_show(value)} is not among its outputValues")
        return value

    def allowed(self, tests: Expression, value: Any) -> bool:
        if tests.language == PYTHON:
            return True  # Python tables list their values in prose only
        return satisfies(tests.text, value, self.scope)

    def shape(self, row: list[Any]) -> Any:
        if len(self.table.outputs) == 1:
            return row[0] if row else None
        return {clause.name: value for clause, value in zip(self.table.outputs, row, strict=False)}

    def default(self) -> Any:
        defaults = [o.default for o in self.table.outputs]
        if any(d is not None for d in defaults):
            row = [self.run.value(d, self.scope) if d is not None else None for d in defaults]
            return (
                self.shape(row)
                if self.table.hit_policy not in ("R", "O", "C") or self.table.aggregation
                else [self.shape(row)]
            )
        if self.table.hit_policy == "C" and self.table.aggregation == "#":
            return Decimal(0)
        return [] if self.table.hit_policy in ("R", "O", "C") and not self.table.aggregation else None

    def apply_policy(self, hits: list[tuple[int, list[Any]]]) -> Any:
        policy, rows = self.table.hit_policy, [row for _, row in hits]
        numbers = ", ".join(str(n) for n, _ in hits)
        if policy == "U" and len(hits) > 1:
            raise _fail(self.where, f"rules {numbers} all match, and the hit policy UNIQUE allows one")
        if policy == "A" and any(not _same(row, rows[0]) for row in rows[1:]):
            raise _fail(self.where, f"rules {numbers} match with different outputs (hit policy ANY)")
        if policy in ("U", "A", "F"):
            return self.shape(rows[0])
        if policy == "P":
            return self.shape(sorted(rows, key=self.priority)[0])
        if policy == "O":
            return [self.shape(row) for row in sorted(rows, key=self.priority)]
        if policy == "C" and self.table.aggregation:
            return self.aggregate([row[0] for row in rows])
        return [self.shape(row) for row in rows]

    def priority(self, row: list[Any]) -> tuple[int, ...]:
        ranks = []
        for clause, value in zip(self.table.outputs, row, strict=False):
            order = _listed_values(clause.allowed, self.scope) if clause.allowed is not None else []
            ranks.append(next((i for i, v in enumerate(order) if equals(v, value)), len(order)))
        return tuple(ranks)

    def aggregate(self, values: list[Any]) -> Any:
        aggregation = self.table.aggregation
        if aggregation == "#":
            distinct: list[Any] = []
            for value in values:
                if not any(equals(value, d) for d in distinct):
                    distinct.append(value)
            return Decimal(len(distinct))
        present = [v for v in values if v is not None]
        if not present:
            return None
        if aggregation == "+":
            if not all(isinstance(v, Decimal) for v in present):
                raise _fail(self.where, "COLLECT SUM needs numbers")
            total = Decimal(0)
            for value in present:
                total = NUMBERS.add(total, value)
            return total
        key = min if aggregation == "<" else max
        try:
            return key(present)
        except TypeError:
            raise _fail(self.where, "COLLECT MIN/MAX needs values of one kind") from None


def _listed_values(tests: Expression, scope: Scope) -> list[Any]:
    """The values an `outputValues` text lists, in order (its priority order)."""
    kind, tree = parse_tests(tests.text)
    if tree is None:
        return []
    items = tree.children[0].children
    from engine.feel.evaluator import Evaluator

    return [Evaluator().run(item, scope) for item in items]


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted output names (`visa_requirement.required`) as nested records, as SpiffWorkflow did."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        target = out
        for part in parents:
            existing = target.get(part)
            target = target.setdefault(part, {}) if isinstance(existing, dict) or existing is None else {}
        target[last] = value
    return out


def _same(a: list[Any], b: list[Any]) -> bool:
    return all(equals(x, y) is True for x, y in zip(a, b, strict=False))


def _show(value: Any) -> str:
    shown = to_python(value)
    return f'"{shown}"' if isinstance(shown, str) else str(shown)
