"""The rewrite: every operation of a script that can grow a value becomes a bounded call; and the
checks that check and deploy run (format specs, literal-only expressions that pass a bound)."""

from __future__ import annotations

import ast
import re
from typing import TypeVar, cast

from engine.sandbox.limits import INTERNALS, MAX_FORMAT_WIDTH, OP_NAMES, ScriptRejected, TooLarge, budget

_Tree = TypeVar("_Tree", ast.Module, ast.Expression)


# --- the rewrite -----------------------------------------------------------------------
def _call(name: str, args: list[ast.expr], node: ast.AST, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.copy_location(ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=keywords or []), node)


def _as_load(target: ast.expr) -> ast.expr:
    copied = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(copied, target)


class Bound(ast.NodeTransformer):
    """Rewrites every operation that can grow a value into a bounded helper call."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = OP_NAMES.get(type(node.op))
        return node if name is None else _call(name, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        name = OP_NAMES.get(type(node.op))
        if name is None:
            return node
        value = _call(name, [_as_load(node.target), node.value], node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            args = [func.value, ast.Constant(func.attr), *node.args]
            return _call("_wp_method", args, node, node.keywords)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Load):
            s = node.slice
            parts = [part if part is not None else ast.Constant(None) for part in (s.lower, s.upper, s.step)]
            return _call("_wp_slice", [node.value, *parts], node)
        return node

    def _items(self, node: ast.AST, field: str) -> ast.AST:
        self.generic_visit(node)
        setattr(node, field, _call("_wp_item", [getattr(node, field)], node))
        return node

    def visit_ListComp(self, node: ast.ListComp) -> ast.AST:
        return self._items(node, "elt")

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        return self._items(node, "elt")

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        return self._items(node, "elt")

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        return self._items(node, "value")

    def _display(self, node: ast.expr, unpacked: bool) -> ast.AST:
        self.generic_visit(node)
        return _call("_wp_display", [node], node) if unpacked else node

    def visit_List(self, node: ast.List) -> ast.AST:
        unpacked = isinstance(node.ctx, ast.Load) and any(isinstance(e, ast.Starred) for e in node.elts)
        return self._display(node, unpacked)

    def visit_Tuple(self, node: ast.Tuple) -> ast.AST:
        unpacked = isinstance(node.ctx, ast.Load) and any(isinstance(e, ast.Starred) for e in node.elts)
        return self._display(node, unpacked)

    def visit_Set(self, node: ast.Set) -> ast.AST:
        return self._display(node, any(isinstance(e, ast.Starred) for e in node.elts))

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        return self._display(node, any(k is None for k in node.keys))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                value.value = _call("_wp_text", [cast(ast.expr, self.visit(value.value))], value)
        return _call("_wp_display", [node], node)


def format_problems(tree: ast.AST) -> list[str]:
    """Format specs in f-strings that are computed or wider than MAX_FORMAT_WIDTH."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = node.format_spec
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if any(not isinstance(p, ast.Constant) for p in parts):
                problems.append(_at(node, "a computed format spec is not allowed"))
                continue
            text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
            if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", text) if len(n) < 8) or re.search(
                r"\d{8,}", text
            ):
                problems.append(_at(node, f"format width too large (at most {MAX_FORMAT_WIDTH:,})"))
    return problems


def bound(tree: _Tree) -> _Tree:
    """The tree with every growing operation bounded; raises ScriptRejected for bad format specs."""
    problems = format_problems(tree)
    if problems:
        raise ScriptRejected("; ".join(problems))
    return cast(_Tree, ast.fix_missing_locations(Bound().visit(tree)))


# --- check and deploy: constants that would pass a bound ----------------------------------------
def _constant(node: ast.AST) -> bool:
    """True when `node` is made of literals only (and method calls on them)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name | ast.Starred | ast.Lambda | ast.comprehension):
            return False
        if isinstance(sub, ast.Call) and not isinstance(sub.func, ast.Attribute):
            return False
    return True


def constant_problems(tree: ast.AST) -> list[str]:
    """Refusals of the largest literal-only expressions (`7**10**9`, `'x'.zfill(10**9)`), evaluated
    under the same bounds: what check and deploy can tell before anything runs."""
    problems: list[str] = []
    seen: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in seen or not isinstance(node, ast.BinOp | ast.Call) or not _constant(node):
            continue
        seen.update(id(sub) for sub in ast.walk(node))
        code = compile(bound(ast.Expression(body=_fresh(node))), "<constant>", "eval")
        try:
            with budget():
                eval(code, {"__builtins__": {}, **INTERNALS})
        except TooLarge as exc:
            problems.append(_at(node, str(exc)))
        except Exception:  # other failures (1/0, 'a' - 1) are the run's business, not a bound
            pass
    return problems


def _fresh(node: ast.AST) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def _at(node: ast.AST, message: str) -> str:
    line = getattr(node, "lineno", None)
    return f"line {line}: {message}" if line else message
