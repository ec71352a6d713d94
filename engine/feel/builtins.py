"""FEEL's built-in functions on strings, numbers, lists and contexts (DMN 1.5 §10.3.4).

Each takes FEEL values and returns null for arguments of the wrong type, as FEEL requires. Regular
expression functions (`matches`, `replace`, regex `split`) are left out on purpose: a pattern can
backtrack for as long as it likes, and decisions must stay bounded. Dates and conversions are in
engine/feel/builtins_time.py.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.feel.values import NUMBERS, Function, check_size

BUILTINS: dict[str, Function] = {}


def builtin(name: str, params: str, variadic: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a built-in under its FEEL name, with FEEL parameter names (`;`-separated)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        def safe(*args: Any) -> Any:
            try:
                return fn(*args)
            except (TypeError, ValueError, AttributeError, IndexError, decimal.DecimalException, OverflowError):
                return None

        names = tuple(p for p in params.split(";") if p)
        BUILTINS[name] = Function(names, safe, name, variadic)
        return fn

    return register


def _is_number(*values: Any) -> bool:
    return all(isinstance(v, Decimal) for v in values)


def _strings(*values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


def _items(args: tuple[Any, ...]) -> list[Any] | None:
    """A list argument, or the arguments themselves (`min(1, 2)` and `min([1, 2])`)."""
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    return list(args) if args else None


# --- boolean and strings ------------------------------------------------------------------------
@builtin("not", "negand")
def _not(value: Any) -> bool | None:
    return (not value) if isinstance(value, bool) else None


@builtin("string length", "string")
def _string_length(text: Any) -> Decimal | None:
    return Decimal(len(text)) if _strings(text) else None


@builtin("substring", "string;start position;length")
def _substring(text: Any, start: Any, length: Any = None) -> str | None:
    if not (_strings(text) and _is_number(start)) or start == 0:
        return None
    begin = int(start) - 1 if start > 0 else len(text) + int(start)
    begin = max(begin, 0)
    if length is None:
        return text[begin:]
    return text[begin : begin + int(length)] if _is_number(length) and length >= 0 else None


@builtin("upper case", "string")
def _upper(text: Any) -> str | None:
    return text.upper() if _strings(text) else None


@builtin("lower case", "string")
def _lower(text: Any) -> str | None:
    return text.lower() if _strings(text) else None


@builtin("substring before", "string;match")
def _before(text: Any, match: Any) -> str | None:
    return text.partition(match)[0] if match in text else "" if _strings(text, match) else None


@builtin("substring after", "string;match")
def _after(text: Any, match: Any) -> str | None:
    return text.partition(match)[2] if match in text else "" if _strings(text, match) else None


@builtin("contains", "string;match")
def _contains(text: Any, match: Any) -> bool | None:
    return match in text if _strings(text, match) else None


@builtin("starts with", "string;match")
def _starts(text: Any, match: Any) -> bool | None:
    return text.startswith(match) if _strings(text, match) else None


@builtin("ends with", "string;match")
def _ends(text: Any, match: Any) -> bool | None:
    return text.endswith(match) if _strings(text, match) else None


@builtin("split", "string;delimiter")
def _split(text: Any, delimiter: Any) -> list | None:
    return text.split(delimiter) if _strings(text, delimiter) and delimiter else None


@builtin("string join", "list;delimiter;prefix;suffix")
def _join(items: Any, delimiter: Any = None, prefix: Any = None, suffix: Any = None) -> str | None:
    if not isinstance(items, list) or not all(isinstance(i, str) or i is None for i in items):
        return None
    joined = (delimiter or "").join(i for i in items if i is not None)
    return check_size((prefix or "") + joined + (suffix or ""))


# --- numbers ------------------------------------------------------------------------------------
def _round(n: Any, scale: Any, mode: str) -> Decimal | None:
    if not _is_number(n) or not (scale is None or _is_number(scale)) or abs(scale or 0) > 6176:
        return None
    exponent = Decimal(1).scaleb(-int(scale or 0))
    return n.quantize(exponent, rounding=mode, context=NUMBERS) if n.adjusted() < 34 else n


@builtin("decimal", "n;scale")
def _decimal(n: Any, scale: Any) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_HALF_EVEN) if scale is not None else None


@builtin("round", "n;scale")
def _round_even(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_HALF_EVEN)


@builtin("round half even", "n;scale")
def _round_half_even(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_HALF_EVEN)


@builtin("round up", "n;scale")
def _round_up(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_UP)


@builtin("round down", "n;scale")
def _round_down(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_DOWN)


@builtin("round half up", "n;scale")
def _round_half_up(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_HALF_UP)


@builtin("round half down", "n;scale")
def _round_half_down(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_HALF_DOWN)


@builtin("floor", "n;scale")
def _floor(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_FLOOR)


@builtin("ceiling", "n;scale")
def _ceiling(n: Any, scale: Any = None) -> Decimal | None:
    return _round(n, scale, decimal.ROUND_CEILING)


@builtin("abs", "n")
def _abs(n: Any) -> Any:
    return abs(n) if _is_number(n) else None


@builtin("modulo", "dividend;divisor")
def _modulo(dividend: Any, divisor: Any) -> Decimal | None:
    if not _is_number(dividend, divisor) or divisor == 0:
        return None
    return NUMBERS.subtract(
        dividend, NUMBERS.multiply(divisor, (dividend / divisor).to_integral_value(decimal.ROUND_FLOOR))
    )


@builtin("sqrt", "number")
def _sqrt(n: Any) -> Decimal | None:
    return NUMBERS.sqrt(n) if _is_number(n) and n >= 0 else None


@builtin("log", "number")
def _log(n: Any) -> Decimal | None:
    return NUMBERS.ln(n) if _is_number(n) and n > 0 else None


@builtin("exp", "number")
def _exp(n: Any) -> Decimal | None:
    return NUMBERS.exp(n) if _is_number(n) else None


@builtin("odd", "number")
def _odd(n: Any) -> bool | None:
    return n % 2 != 0 if _is_number(n) and n == n.to_integral_value() else None


@builtin("even", "number")
def _even(n: Any) -> bool | None:
    return n % 2 == 0 if _is_number(n) and n == n.to_integral_value() else None
