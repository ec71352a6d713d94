"""The bounds themselves: sizes, the per-evaluation budget, and the bounded operators, methods and
builtins that rewritten scripts call (engine/sandbox/rewrite.py puts the calls in)."""

from __future__ import annotations

import ast
import builtins
import math
import operator
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_SEQUENCE = 300_000  # a 256 KiB submitted text field still passes through str methods
MAX_INT_BITS = 4_096
MAX_BUDGET = 1_000_000
MAX_FORMAT_WIDTH = 1_000


class ScriptRejected(Exception):
    """The source uses something the restricted environment does not allow, or passed a bound."""


class TooLarge(ScriptRejected):
    """An operation would have made a value past a bound."""


# --- sizes and the per-evaluation budget ----------------------------------------------------
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_NUMBERS = (int, float, bool)
_local = threading.local()


def size_of(value: Any) -> int:
    """Items or characters of a value (1 for a scalar; an integer counts its 64-bit words)."""
    if isinstance(value, _SIZED):
        return len(value)
    if isinstance(value, int):
        return 1 + value.bit_length() // 64
    return 1


def check_length(n: int, what: str = "value") -> None:
    """Refuse a result of `n` items or characters past MAX_SEQUENCE."""
    if n > MAX_SEQUENCE:
        raise TooLarge(f"{what} too large: {n:,} items or characters (at most {MAX_SEQUENCE:,})")


def check_int_bits(bits: float) -> None:
    """Refuse an integer result of about `bits` bits past MAX_INT_BITS."""
    if bits > MAX_INT_BITS:
        raise TooLarge(f"number too large: about {int(bits):,} bits (at most {MAX_INT_BITS:,})")


def spend(n: int) -> None:
    """Count `n` items built by the current evaluation; refuse past MAX_BUDGET."""
    left = getattr(_local, "left", None)
    if left is None:
        return
    left -= n
    _local.left = left
    if left < 0:
        raise TooLarge(f"the script built more than {MAX_BUDGET:,} items in one run")


@contextmanager
def budget() -> Iterator[None]:
    """One evaluation's budget (nested evaluations share the outer one)."""
    if getattr(_local, "left", None) is not None:
        yield
        return
    _local.left = MAX_BUDGET
    try:
        yield
    finally:
        _local.left = None


def _made(value: Any, what: str = "value") -> Any:
    n = size_of(value)
    check_length(n, what)
    spend(n)
    return value


def _estimate_text(value: Any, limit: int) -> int:
    """An upper-ish estimate of len(str(value)), walking at most until `limit` is passed."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 2
    if isinstance(value, dict):
        items: Any = (x for pair in value.items() for x in pair)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = iter(value)
    else:
        return 32
    total = 2
    for item in items:
        total += _estimate_text(item, limit - total) + 2
        if total > limit:
            break
    return total


def _checked_text(value: Any) -> Any:
    if not isinstance(value, (str, float, bool)) and value is not None:
        check_length(_estimate_text(value, MAX_SEQUENCE), "text")
    return value


# --- operators -------------------------------------------------------------------------
def _int_bits(value: Any) -> int:
    return abs(int(value)).bit_length() if isinstance(value, int) else 0


def _pre_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        check_int_bits(_int_bits(a) + _int_bits(b))
    elif isinstance(b, int) and isinstance(a, _SIZED):
        check_length(len(a) * max(b, 0), "repetition")
    elif isinstance(a, int) and isinstance(b, _SIZED):
        check_length(len(b) * max(a, 0), "repetition")


def _pre_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        check_int_bits(b * math.log2(abs(a)))


def _pre_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a:
        check_int_bits(_int_bits(a) + b)


_FORMAT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _pre_mod(a: Any, b: Any) -> None:
    if not isinstance(a, str):
        return
    for width, precision in _FORMAT_FIELD.findall(a):
        for part in (width, precision):
            if part == "*" or (part and len(part) > 4) or (part and int(part) > MAX_FORMAT_WIDTH):
                raise TooLarge(f"format width too large (at most {MAX_FORMAT_WIDTH:,})")
    args = b if isinstance(b, tuple) else (b,)
    check_length(len(a) + sum(_estimate_text(x, MAX_SEQUENCE) for x in args), "text")


def _pre_join(a: Any, b: Any) -> None:
    if isinstance(a, _SIZED) and isinstance(b, _SIZED):
        check_length(len(a) + len(b), "value")


_OPS: dict[type, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], None] | None]] = {
    ast.Add: (operator.add, _pre_join),
    ast.Mult: (operator.mul, _pre_mul),
    ast.Pow: (operator.pow, _pre_pow),
    ast.LShift: (operator.lshift, _pre_lshift),
    ast.Mod: (operator.mod, _pre_mod),
    ast.BitOr: (operator.or_, _pre_join),
    ast.Sub: (operator.sub, None),
    ast.BitAnd: (operator.and_, None),
    ast.BitXor: (operator.xor, None),
}
OP_NAMES = {op: f"_wp_{op.__name__.lower()}" for op in _OPS}


def _binop(op: type) -> Callable[[Any, Any], Any]:
    fn, pre = _OPS[op]

    def bounded(a: Any, b: Any) -> Any:
        if pre is not None:
            pre(a, b)
        result = fn(a, b)
        return result if type(result) in _NUMBERS else _made(result)

    return bounded


# --- methods ---------------------------------------------------------------------------
def _pre_method(obj: Any, name: str, args: tuple, kwargs: dict) -> tuple:
    if name == "zfill" and args and isinstance(args[0], int):
        check_length(args[0], "text")
    elif name == "replace" and isinstance(obj, str) and len(args) >= 2 and isinstance(args[1], str):
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
        hits = obj.count(old) if old else len(obj) + 1
        hits = min(hits, count) if count is not None else hits
        check_length(len(obj) + hits * max(len(new) - len(old), 0), "text")
    elif name == "join" and isinstance(obj, (str, bytes)) and args:
        parts = list(args[0])
        spend(len(parts))
        check_length(len(parts), "list")
        total = sum(len(p) if isinstance(p, (str, bytes)) else 0 for p in parts)
        check_length(total + len(obj) * max(len(parts) - 1, 0), "text")
        args = (parts, *args[1:])
    elif name in ("extend", "update", "union") and isinstance(obj, _SIZED):
        args = tuple(list(a) if not isinstance(a, _SIZED) else a for a in args)
        for a in args:
            spend(len(a))
        check_length(len(obj) + sum(len(a) for a in args), "value")
    elif name in ("append", "insert", "add", "setdefault") and isinstance(obj, _SIZED):
        check_length(len(obj) + 1, "value")
        spend(1)
    return args


#: Methods that return a value already there (no new object to count).
_GETTERS = frozenset("get pop setdefault index count find keys values items".split())


def _method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    args = _pre_method(obj, name, args, kwargs)
    result = getattr(obj, name)(*args, **kwargs)
    if name not in _GETTERS and isinstance(result, _SIZED) and result is not obj:
        _made(result)
    return result


def _slice(obj: Any, lower: Any, upper: Any, step: Any) -> Any:
    return _made(obj[lower:upper:step])


def _item(value: Any) -> Any:
    spend(1)
    return value


def _display(value: Any) -> Any:
    return _made(value)


# --- builtins that build ---------------------------------------------------------------
def _building(fn: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _made(fn(*args, **kwargs))

    bounded.__name__ = fn.__name__
    return bounded


def _str(*args: Any) -> str:
    if args:
        _checked_text(args[0])
    return _made(str(*args))


def _sum(values: Any, start: Any = 0) -> Any:
    if not isinstance(start, _NUMBERS):
        raise TooLarge("sum() adds numbers only (join text with ''.join, lists with +)")
    return sum(values, start)


def _round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > 400:
        check_int_bits(abs(ndigits) * 3.33)
    return round(number, ndigits) if ndigits is not None else round(number)


def _range(*args: int) -> range:
    r = range(*args)
    check_length(len(r), "range()")
    spend(len(r))
    return r


#: Bounded replacements for builtins that build values; engine/scripting.py overlays them.
BOUNDED_BUILTINS: dict[str, Callable[..., Any]] = {
    **{name: _building(getattr(builtins, name)) for name in ("list", "tuple", "set", "dict", "sorted")},
    "str": _str,
    "sum": _sum,
    "round": _round,
    "range": _range,
}

#: The names the rewritten code calls (kept out of scripts: names starting with `_` are refused).
INTERNALS: dict[str, Any] = {
    **{OP_NAMES[op]: _binop(op) for op in _OPS},
    "_wp_method": _method,
    "_wp_slice": _slice,
    "_wp_item": _item,
    "_wp_display": _display,
    "_wp_text": _checked_text,
}
