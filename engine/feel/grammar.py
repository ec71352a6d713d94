"""The FEEL grammar (DMN 1.5 chapter 10) for lark, and the parse functions that turn text into a tree.

Two LALR parsers share one grammar: one starts at a textual expression, the other at a list of
positive unary tests (a decision table's input entry). Names may contain spaces (`Monthly
Salary`, `string length`): a name is a run of name words, so `a and b` is two names joined by a
keyword, while keywords inside built-in names (`date and time`, `years and months duration`) have
their own terminals. Parse trees are cached per text.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput

from engine.errors import ScriptError

MAX_TEXT = 20_000
MAX_NESTING = 64

GRAMMAR = r"""
?start_expression: expression
start_tests: positive_unary_tests

positive_unary_tests: positive_unary_test ("," positive_unary_test)*
?positive_unary_test: unary_compare | expression
unary_compare: COMPARE_OP additive

?expression: if_expr | for_expr | quantified | function_def | disjunction
if_expr: "if" expression "then" expression "else" expression
for_expr: "for" iteration ("," iteration)* "return" expression
iteration: name "in" additive (".." additive)?
quantified: quantifier iteration ("," iteration)* "satisfies" expression
function_def: "function" "(" [name ("," name)*] ")" expression

?disjunction: conjunction | disjunction "or" conjunction -> or_
?conjunction: comparison | conjunction "and" comparison -> and_
?comparison: additive
    | additive COMPARE_OP additive -> compare
    | additive "between" additive "and" additive -> between
    | additive "in" "(" positive_unary_tests ")" -> in_tests
    | additive "in" additive -> in_value
    | additive "in" unary_compare -> in_value
    | additive INSTANCE_OF type_name -> instance_of

?additive: multiplicative
    | additive "+" multiplicative -> add
    | additive "-" multiplicative -> sub
?multiplicative: power
    | multiplicative "*" power -> mul
    | multiplicative "/" power -> div
?power: unary | power "**" unary -> pow
?unary: postfix | "-" unary -> neg

?postfix: primary
    | postfix "." name -> path
    | postfix "[" expression "]" -> filter
    | postfix "(" [arguments] ")" -> call
arguments: expression ("," expression)* -> positional
    | named_argument ("," named_argument)* -> named
named_argument: name ":" expression

?primary: literal
    | name
    | interval
    | "[" [expression ("," expression)*] "]" -> list_
    | "{" [context_entry ("," context_entry)*] "}" -> context
    | "(" expression ")"
    | builtin_name

context_entry: (name | string) ":" expression
interval: "[" additive ".." additive "]" -> range_ii
    | "[" additive ".." additive ")" -> range_ie
    | ("(" | "]") additive ".." additive "]" -> range_ei
    | ("(" | "]") additive ".." additive ")" -> range_ee

type_name: name

?literal: NUMBER -> number
    | string
    | "true" -> true
    | "false" -> false
    | "null" -> null
    | TEMPORAL -> temporal
string: STRING

name: NAME_WORD+ | "?" -> input_name
builtin_name: DATE_AND_TIME | YM_DURATION
DATE_AND_TIME.3: /date\s+and\s+time(?=\s*\()/
YM_DURATION.3: /years\s+and\s+months\s+duration(?=\s*\()/
INSTANCE_OF.3: /instance\s+of\b/
!quantifier: "some" | "every"

COMPARE_OP: "<=" | ">=" | "!=" | "<" | ">" | "="
NAME_WORD: /[A-Za-z_\u00C0-\uFFEF][A-Za-z0-9_'\u00C0-\uFFEF]*/
NUMBER: /\d+(\.\d+)?|\.\d+/
STRING: /"(\\.|[^"\\])*"/
TEMPORAL: /@"(\\.|[^"\\])*"/

COMMENT: /\/\/[^\n]*/ | /\/\*(.|\n)*?\*\//
%import common.WS
%ignore WS
%ignore COMMENT
"""


def _parser(start: str) -> Lark:
    return Lark(GRAMMAR, parser="lalr", start=start, maybe_placeholders=False, propagate_positions=False)


_EXPRESSION = _parser("start_expression")
_TESTS = _parser("start_tests")


class FeelSyntaxError(ScriptError):
    """A FEEL text that the grammar does not accept."""


def _guard(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise FeelSyntaxError("feel_too_large", what="expression", limit=f"{MAX_TEXT:,} characters")
    depth = deepest = 0
    for char in text:  # lark's tree walks recurse: refuse what would exhaust the stack
        depth += char in "([{"
        depth -= char in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise FeelSyntaxError("feel_too_large", what="nesting", limit=str(MAX_NESTING))
    return text


def _syntax_error(text: str, exc: LarkError) -> FeelSyntaxError:
    if isinstance(exc, UnexpectedInput):
        column = getattr(exc, "column", None)
        token = getattr(exc, "token", None)
        if isinstance(exc, UnexpectedCharacters):
            position = exc.pos_in_stream or 0
            found = text[position : position + 1]
        else:
            found = str(token) if token is not None and str(token) else "the end"
        detail = f"unexpected {found!r}" + (f" at column {column}" if column and column > 0 else "")
    else:
        detail = str(exc).splitlines()[0]
    return FeelSyntaxError("feel_syntax", expression=text.strip()[:200], detail=detail)


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> Tree | Token:
    """The tree of a FEEL textual expression (FeelSyntaxError when it is not one)."""
    try:
        return _EXPRESSION.parse(_guard(text))
    except LarkError as exc:
        raise _syntax_error(text, exc) from None


@lru_cache(maxsize=4096)
def parse_tests(text: str) -> tuple[str, Tree | None]:
    """A unary tests text as (`any` | `tests` | `not`, tree of its positive tests)."""
    stripped = _guard(text).strip()
    if stripped in ("", "-"):
        return "any", None
    kind, body = "tests", stripped
    if stripped.startswith("not") and stripped[3:].lstrip().startswith("(") and stripped.endswith(")"):
        inner = stripped[3:].lstrip()[1:-1]
        try:
            return "not", _TESTS.parse(inner)
        except LarkError:
            pass  # `not(a) or not(b)`: an expression, read whole below
    try:
        return kind, _TESTS.parse(body)
    except LarkError as exc:
        raise _syntax_error(text, exc) from None
