"""Evaluation of FEEL parse trees: names in nested scopes, three-valued logic, unary tests.

Every node visited counts against a step budget (`MAX_STEPS`), and iterations and lists are capped,
so an expression's cost is bounded whatever its input.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lark import Token, Tree

from engine.feel.operators import arithmetic, compare, equals, in_range, negate
from engine.feel.temporal import parse_temporal
from engine.feel.values import MAX_ALLOCATED, MAX_LIST, MAX_STEPS, FeelLimit, Function, Range, check_size, type_name

_COMPARISONS = {
    "=": lambda c: c == 0,
    "!=": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}
_ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_RANGES = {"range_ii": (True, True), "range_ie": (True, False), "range_ei": (False, True), "range_ee": (False, False)}
INPUT = "?"
#: nodes whose value is an existing one (a name, a path), not something built
_REFERENCES = frozenset({"name", "input_name", "path", "builtin_name", "string", "temporal"})


def name_of(node: Tree) -> str:
    """The text of a name node: its words joined by single spaces."""
    if node.data == "input_name":
        return INPUT
    return " ".join(str(t) for t in node.children)


def _normal(key: str) -> str:
    return " ".join(key.split())


class Scope:
    """Nested variable scopes, innermost last; built-ins are looked up after every scope."""

    def __init__(self, frames: list[Mapping[str, Any]], builtins: Mapping[str, Function]) -> None:
        self.frames, self.builtins = frames, builtins

    def child(self, frame: Mapping[str, Any]) -> Scope:
        return Scope([*self.frames, frame], self.builtins)

    def lookup(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        wanted = _normal(name)
        for frame in reversed(self.frames):
            for key, value in frame.items():
                if _normal(key) == wanted:
                    return value
        return self.builtins.get(wanted)


def _truth(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


class Evaluator:
    """Evaluates one tree; `steps` counts the nodes visited."""

    def __init__(self) -> None:
        self.steps = 0
        self.allocated = 0

    def run(self, node: Tree | Token, scope: Scope) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise FeelLimit("feel_too_large", what="evaluation", limit=f"{MAX_STEPS:,} steps")
        value = self._dispatch(node, scope)
        if isinstance(value, (str, list)) and not isinstance(node, Token) and node.data not in _REFERENCES:
            self.allocated += len(value)  # strings and lists built, so copies cannot add up unseen
            if self.allocated > MAX_ALLOCATED:
                raise FeelLimit("feel_too_large", what="evaluation", limit=f"{MAX_ALLOCATED:,} characters and items")
        return value

    def _dispatch(self, node: Tree | Token, scope: Scope) -> Any:
        if isinstance(node, Token):
            raise FeelLimit("feel_failed", detail=f"unexpected token {node!s}")
        handler = getattr(self, f"_{node.data}", None)
        if handler is not None:
            return handler(node, scope)
        if node.data in _ARITHMETIC:
            left, right = (self.run(c, scope) for c in node.children)
            return check_size(arithmetic(_ARITHMETIC[node.data], left, right))
        if node.data in _RANGES:
            start, end = (self.run(c, scope) for c in node.children)
            return Range(start, end, *_RANGES[node.data])
        raise FeelLimit("feel_failed", detail=f"unsupported construct {node.data}")

    # --- literals and names -------------------------------------------------------------------
    def _number(self, node: Tree, scope: Scope) -> Decimal:
        return Decimal(str(node.children[0]))

    def _string(self, node: Tree, scope: Scope) -> str:
        return _unquote(str(node.children[0])[1:-1])

    def _temporal(self, node: Tree, scope: Scope) -> Any:
        return parse_temporal(_unquote(str(node.children[0])[2:-1]))

    def _true(self, node: Tree, scope: Scope) -> bool:
        return True

    def _false(self, node: Tree, scope: Scope) -> bool:
        return False

    def _null(self, node: Tree, scope: Scope) -> None:
        return None

    def _name(self, node: Tree, scope: Scope) -> Any:
        return scope.lookup(name_of(node))

    def _input_name(self, node: Tree, scope: Scope) -> Any:
        return scope.lookup(INPUT)

    def _builtin_name(self, node: Tree, scope: Scope) -> Any:
        return scope.builtins.get(_normal(str(node.children[0])))

    def _list_(self, node: Tree, scope: Scope) -> list:
        return check_size([self.run(c, scope) for c in node.children])

    def _context(self, node: Tree, scope: Scope) -> dict:
        result: dict[str, Any] = {}
        inner = scope.child(result)  # later entries see earlier ones
        for entry in node.children:
            key_node, value_node = entry.children
            key = name_of(key_node) if key_node.data in ("name", "input_name") else self._string(key_node, scope)
            result[key] = self.run(value_node, inner)
        return result

    # --- postfix ------------------------------------------------------------------------------
    def _path(self, node: Tree, scope: Scope) -> Any:
        target, key = self.run(node.children[0], scope), name_of(node.children[1])
        if isinstance(target, list):
            return [property_of(item, key) for item in target]
        return property_of(target, key)

    def _filter(self, node: Tree, scope: Scope) -> Any:
        target, test = self.run(node.children[0], scope), node.children[1]
        items = target if isinstance(target, list) else [target]
        index = self.run(test, scope.child({"item": None}))
        if isinstance(index, Decimal):
            position = int(index)
            if position > 0 and position <= len(items):
                return items[position - 1]
            if position < 0 and -position <= len(items):
                return items[position]
            return None
        kept = []
        for item in items:
            frame = dict(item) if isinstance(item, dict) else {}
            frame["item"] = item
            if self.run(test, scope.child(frame)) is True:
                kept.append(item)
        return kept

    def _call(self, node: Tree, scope: Scope) -> Any:
        function = self.run(node.children[0], scope)
        if not isinstance(function, Function):
            return None
        arguments = node.children[1] if len(node.children) > 1 else None
        if arguments is None:
            return check_size(function.invoke([]))
        if arguments.data == "named":
            named = {name_of(a.children[0]): self.run(a.children[1], scope) for a in arguments.children}
            return check_size(function.invoke([], named))
        return check_size(function.invoke([self.run(a, scope) for a in arguments.children]))

    # --- operators ----------------------------------------------------------------------------
    def _neg(self, node: Tree, scope: Scope) -> Any:
        return negate(self.run(node.children[0], scope))

    def _compare(self, node: Tree, scope: Scope) -> bool | None:
        left, op, right = node.children
        return compare_values(self.run(left, scope), str(op), self.run(right, scope))

    def _between(self, node: Tree, scope: Scope) -> bool | None:
        value, low, high = (self.run(c, scope) for c in node.children)
        return in_range(Range(low, high), value)

    def _in_value(self, node: Tree, scope: Scope) -> bool | None:
        value = self.run(node.children[0], scope)
        return self.test(node.children[1], value, scope)

    def _in_tests(self, node: Tree, scope: Scope) -> bool | None:
        value = self.run(node.children[0], scope)
        return self.tests(node.children[1], value, scope)

    def _instance_of(self, node: Tree, scope: Scope) -> bool:
        value, wanted = self.run(node.children[0], scope), name_of(node.children[2].children[0])
        return wanted == "Any" and value is not None or type_name(value) == wanted

    def _and_(self, node: Tree, scope: Scope) -> bool | None:
        left, right = (_truth(self.run(c, scope)) for c in node.children)
        if left is False or right is False:
            return False
        return True if left and right else None

    def _or_(self, node: Tree, scope: Scope) -> bool | None:
        left, right = (_truth(self.run(c, scope)) for c in node.children)
        if left or right:
            return True
        return False if left is False and right is False else None

    def _unary_compare(self, node: Tree, scope: Scope) -> Range:
        op, value = str(node.children[0]), self.run(node.children[1], scope)
        if op in ("<", "<="):
            return Range(None, value, end_included=op == "<=")
        if op in (">", ">="):
            return Range(value, None, start_included=op == ">=")
        return Range(value, value)

    # --- control ------------------------------------------------------------------------------
    def _if_expr(self, node: Tree, scope: Scope) -> Any:
        condition, then, otherwise = node.children
        return self.run(then if self.run(condition, scope) is True else otherwise, scope)

    def _iterations(self, nodes: list[Tree], scope: Scope) -> list[dict[str, Any]]:
        domains = []
        for iteration in nodes:
            values = [self.run(c, scope) for c in iteration.children[1:]]
            domains.append((name_of(iteration.children[0]), _domain(values)))
        total = 1
        for _, domain in domains:
            total *= max(len(domain), 1)
            if total > MAX_LIST:
                raise FeelLimit("feel_too_large", what="iteration", limit=f"{MAX_LIST:,} items")
        names = [n for n, _ in domains]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(d for _, d in domains))]

    def _for_expr(self, node: Tree, scope: Scope) -> list:
        *iterations, body = node.children
        results: list[Any] = []
        for frame in self._iterations(iterations, scope):
            results.append(self.run(body, scope.child({**frame, "partial": results})))
        return results

    def _quantified(self, node: Tree, scope: Scope) -> bool | None:
        quantifier, *iterations, body = node.children
        outcomes = [self.run(body, scope.child(f)) for f in self._iterations(iterations, scope)]
        if str(quantifier.children[0]) == "some":
            return any(o is True for o in outcomes)
        return all(o is True for o in outcomes)

    def _function_def(self, node: Tree, scope: Scope) -> Function:
        *params, body = node.children
        names = tuple(name_of(p) for p in params if p is not None)

        def run_body(*args: Any) -> Any:
            return self.run(body, scope.child(dict(zip(names, args, strict=False))))

        return Function(names, run_body)

    # --- unary tests --------------------------------------------------------------------------
    def tests(self, node: Tree, value: Any, scope: Scope) -> bool | None:
        """Positive unary tests: true when one test matches `value`."""
        tests = node.children[0].children if node.data == "start_tests" else node.children
        outcomes = [self.test(test, value, scope) for test in tests]
        if any(o is True for o in outcomes):
            return True
        return False if all(o is False for o in outcomes) else None

    def test(self, node: Tree, value: Any, scope: Scope) -> bool | None:
        """One positive unary test against `value` (bound to `?` while it runs)."""
        found = self.run(node, scope.child({INPUT: value}))
        if node.data != "unary_compare" and _uses_input(node):
            return _truth(found)
        return matches(value, found)


def matches(value: Any, found: Any) -> bool | None:
    """Whether `value` satisfies the evaluated test `found` (a value, range or list)."""
    if equals(value, found) is True:
        return True
    if isinstance(found, Range):
        return in_range(found, value)
    if isinstance(found, list):
        return any(matches(value, f) is True for f in found)
    if isinstance(found, bool) and not isinstance(value, bool):
        return found
    return value is None and found is None


def compare_values(left: Any, op: str, right: Any) -> bool | None:
    if op in ("=", "!="):
        same = equals(left, right)
        return same if same is None or op == "=" else not same
    order = compare(left, right)
    return None if order is None else _COMPARISONS[op](order)


def property_of(target: Any, key: str) -> Any:
    """`target.key` for contexts, dates, times, durations and ranges."""
    from engine.feel.properties import temporal_property

    if isinstance(target, dict):
        return target.get(key)
    return temporal_property(target, key)


def _domain(values: list[Any]) -> list[Any]:
    if len(values) == 2:
        start, end = values
        if not (isinstance(start, Decimal) and isinstance(end, Decimal)):
            return []
        if abs(end - start) >= MAX_LIST:
            raise FeelLimit("feel_too_large", what="iteration", limit=f"{MAX_LIST:,} items")
        step = 1 if end >= start else -1
        return [Decimal(i) for i in range(int(start), int(end) + step, step)]
    domain = values[0]
    return domain if isinstance(domain, list) else [domain]


def _uses_input(node: Tree | Token) -> bool:
    if isinstance(node, Token):
        return False
    if node.data == "input_name":
        return True
    return any(_uses_input(child) for child in node.children)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}


def _unquote(text: str) -> str:
    if "\\" not in text:
        return text
    out, chars = [], iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        if escaped == "u":
            digits = "".join(next(chars, "") for _ in range(4))
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                out.append(digits)
        else:
            out.append(_ESCAPES.get(escaped, escaped))
    return "".join(out)
