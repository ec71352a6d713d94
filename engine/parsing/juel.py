"""JUEL (the Java Unified Expression Language Camunda 7 writes) translated to Python source.

`${amount > 1000 && !rejected}` becomes `((amount > 1000) and (not rejected))`. A real grammar
(lark, LALR) reads the whole expression: literals, names, `a.b` and `a[b]` (keys of task data),
`! not && and || or`, `== eq != ne < lt > gt <= le >= ge`, `+ - * / div % mod`, unary minus,
`empty`, and `a ? b : c`. Method calls (`execution.getVariable("x")` excepted, which reads `x`)
and text mixed with expressions are refused: they have no Python equivalent in task data. The
Python it produces is then checked and run like any other condition (engine/scripting.py).
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

GRAMMAR = r"""
?start: "${" expr "}" | "#{" expr "}"
?expr: cond
?cond: or_ | or_ "?" expr ":" expr -> choice
?or_: and_ | or_ ("||" | "or") and_ -> or_op
?and_: eq | and_ ("&&" | "and") eq -> and_op
?eq: rel | eq EQ rel -> compare
?rel: add | rel REL add -> compare
?add: mul | add ADD mul -> arith
?mul: unary | mul MUL unary -> arith
?unary: value | ("!" | "not") unary -> not_op | "-" unary -> neg | "empty" unary -> empty
?value: atom | value "." NAME -> member | value "[" expr "]" -> index | value "(" [args] ")" -> call
args: expr ("," expr)*
?atom: NUMBER -> number | STRING -> string | "true" -> true | "false" -> false | "null" -> null
     | NAME -> name | "(" expr ")"
EQ: "==" | "!=" | /eq\b/ | /ne\b/
REL: "<=" | ">=" | "<" | ">" | /le\b/ | /ge\b/ | /lt\b/ | /gt\b/
ADD: "+" | "-"
MUL: "*" | "/" | "%" | /div\b/ | /mod\b/
NAME: /(?!(and|or|not|eq|ne|lt|gt|le|ge|div|mod|empty|true|false|null|instanceof)\b)[A-Za-z_$][A-Za-z0-9_$]*/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /'([^'\\]|\\.)*'/ | /"([^"\\]|\\.)*"/
%ignore /\s+/
"""
OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"}


class JuelError(ValueError):
    """The text is not a JUEL expression Waypoint can run."""


@v_args(inline=True)
class _ToPython(Transformer):
    def number(self, token: Token) -> str:
        return str(token)

    def string(self, token: Token) -> str:
        body = str(token)[1:-1].replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
        return repr(body)

    def true(self) -> str:
        return "True"

    def false(self) -> str:
        return "False"

    def null(self) -> str:
        return "None"

    def name(self, token: Token) -> str:
        return str(token)

    def member(self, target: str, key: Token) -> str:
        return f"{target}[{str(key)!r}]"

    def index(self, target: str, key: str) -> str:
        return f"{target}[{key}]"

    def call(self, target: str, args: list[str] | None) -> str:
        if target == "execution['getVariable']" and args and len(args) == 1 and args[0][0] in "'\"":
            return args[0][1:-1]
        raise JuelError(f"method calls are not supported ({target.split('[')[0]}...)")

    def args(self, *items: str) -> list[str]:
        return list(items)

    def compare(self, left: str, op: Token, right: str) -> str:
        return f"({left} {OPERATORS.get(str(op), str(op))} {right})"

    def arith(self, left: str, op: Token, right: str) -> str:
        return f"({left} {OPERATORS.get(str(op), str(op))} {right})"

    def or_op(self, left: str, right: str) -> str:
        return f"({left} or {right})"

    def and_op(self, left: str, right: str) -> str:
        return f"({left} and {right})"

    def not_op(self, value: str) -> str:
        return f"(not {value})"

    def neg(self, value: str) -> str:
        return f"(-{value})"

    def empty(self, value: str) -> str:
        return f"({value} in (None, '', [], {{}}))"

    def choice(self, test: str, yes: str, no: str) -> str:
        return f"({yes} if {test} else {no})"


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


@lru_cache(maxsize=1024)
def to_python(text: str) -> str:
    """The Python source equivalent to JUEL expression `text` (`${...}` or `#{...}`).

    :raise JuelError: when it is not a single JUEL expression Waypoint can translate
    """
    try:
        tree = _parser().parse(text.strip())
    except LarkError as exc:
        raise JuelError(f"not a JUEL expression: {str(exc).splitlines()[0]}") from exc
    try:
        result = _ToPython().transform(tree)
    except VisitError as exc:
        raise JuelError(str(exc.orig_exc)) from exc
    if not isinstance(result, str):
        raise JuelError("not a JUEL expression")
    return result
