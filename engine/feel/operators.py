"""FEEL's operators on values: equality, ordering and arithmetic, with null for what has no meaning.

FEEL never raises on a type mismatch: `1 + "a"`, `10 / 0` and `date("2020-01-01") < 5` are null.
"""

from __future__ import annotations

import decimal
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.feel.temporal import add_months, months_between
from engine.feel.values import NUMBERS, Range, YearsMonths, check_size

MAX_EXPONENT = 999_999


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime):
        return "datetime"
    for kind, name in ((Decimal, "number"), (str, "string"), (date, "date"), (time, "time")):
        if isinstance(value, kind):
            return name
    if isinstance(value, timedelta):
        return "dt_duration"
    if isinstance(value, YearsMonths):
        return "ym_duration"
    return type(value).__name__


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        if {ka, kb} == {"date", "datetime"}:  # a date compares as that date's midnight
            a = a if isinstance(a, datetime) else datetime(a.year, a.month, a.day, tzinfo=b.tzinfo)
            b = b if isinstance(b, datetime) else datetime(b.year, b.month, b.day, tzinfo=a.tzinfo)
            return a, b
        return None
    if ka in ("datetime", "time") and (a.tzinfo is None) != (b.tzinfo is None):
        return None
    if ka == "time" and a.tzinfo is not None:
        base = date(2000, 1, 1)
        return datetime.combine(base, a), datetime.combine(base, b)
    return a, b


def compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 for ordered values of one kind; None otherwise."""
    if a is None or b is None:
        return None
    pair = _comparable(a, b)
    if pair is None or _kind(pair[0]) in ("boolean", "list", "dict"):
        return None
    x, y = pair
    try:
        return (x > y) - (x < y)
    except TypeError:
        return None


def equals(a: Any, b: Any) -> bool | None:
    """FEEL `=`: null only equals null; different kinds are not comparable (null)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        results = [equals(x, y) for x, y in zip(a, b, strict=True)]
        return None if None in results else all(results)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False
        results = [equals(a[k], b[k]) for k in a]
        return None if None in results else all(results)
    if isinstance(a, Range) and isinstance(b, Range):
        return a == b
    pair = _comparable(a, b)
    if pair is None:
        return None
    return bool(pair[0] == pair[1])


def _numeric(op: str, a: Decimal, b: Decimal) -> Decimal | None:
    try:
        if op == "+":
            return NUMBERS.add(a, b)
        if op == "-":
            return NUMBERS.subtract(a, b)
        if op == "*":
            return NUMBERS.multiply(a, b)
        if op == "/":
            return NUMBERS.divide(a, b) if b != 0 else None
        if abs(b) > MAX_EXPONENT:
            return None
        return NUMBERS.power(a, b)
    except (decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow):
        return None


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """`a op b` for + - * / **, null where FEEL defines no result."""
    if a is None or b is None:
        return None
    ka, kb = _kind(a), _kind(b)
    if ka == kb == "number":
        return _numeric(op, a, b)
    try:
        return _temporal(op, a, b, ka, kb)
    except (OverflowError, ValueError, TypeError, decimal.InvalidOperation):
        return None


def _temporal(op: str, a: Any, b: Any, ka: str, kb: str) -> Any:
    if op == "+" and ka == kb == "string":
        return check_size(a + b)
    if op in "+-" and ka in ("date", "datetime"):
        if kb == "dt_duration":
            result = a + b if op == "+" else a - b
            return result if ka == "datetime" or not isinstance(result, datetime) else result
        if kb == "ym_duration":
            return add_months(a, b.months if op == "+" else -b.months)
    if op == "+" and kb in ("date", "datetime") and ka in ("dt_duration", "ym_duration"):
        return _temporal("+", b, a, kb, ka)
    if op == "-" and ka in ("date", "datetime") and kb in ("date", "datetime"):
        pair = _comparable(a, b)
        if pair is None:
            return None
        x, y = (v if isinstance(v, datetime) else datetime(v.year, v.month, v.day) for v in pair)
        return x - y
    if op in "+-" and ka == kb == "dt_duration":
        return a + b if op == "+" else a - b
    if op in "+-" and ka == kb == "ym_duration":
        return YearsMonths(a.months + b.months if op == "+" else a.months - b.months)
    if op in "+-" and ka == "time" and kb == "dt_duration":
        moved = datetime.combine(date(2000, 1, 1), a) + (b if op == "+" else -b)
        return moved.timetz()
    if op == "-" and ka == kb == "time":
        base = date(2000, 1, 1)
        return datetime.combine(base, a) - datetime.combine(base, b)
    return _scaled(op, a, b, ka, kb)


def _scaled(op: str, a: Any, b: Any, ka: str, kb: str) -> Any:
    if op == "*" and ka == "number" and kb in ("dt_duration", "ym_duration"):
        return _scaled(op, b, a, kb, ka)
    if op in "*/" and ka == "dt_duration" and kb == "number":
        seconds = Decimal(str(a.total_seconds()))
        scaled = seconds * b if op == "*" else (seconds / b if b else None)
        return None if scaled is None else timedelta(seconds=float(scaled))
    if op in "*/" and ka == "ym_duration" and kb == "number":
        scaled = a.months * b if op == "*" else (a.months / b if b else None)
        return None if scaled is None else YearsMonths(int(scaled))
    if op == "/" and ka == kb == "dt_duration":
        return NUMBERS.divide(Decimal(str(a.total_seconds())), Decimal(str(b.total_seconds()))) if b else None
    if op == "/" and ka == kb == "ym_duration":
        return NUMBERS.divide(Decimal(a.months), Decimal(b.months)) if b.months else None
    return None


def negate(value: Any) -> Any:
    if isinstance(value, Decimal) and not isinstance(value, bool):
        return NUMBERS.minus(value)
    if isinstance(value, timedelta):
        return -value
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.months)
    return None


def ym_between(a: Any, b: Any) -> YearsMonths | None:
    """`years and months duration(from, to)`."""
    if _kind(a) in ("date", "datetime") and _kind(b) in ("date", "datetime"):
        return months_between(a, b)
    return None


def in_range(bounds: Range, value: Any) -> bool | None:
    """Whether `value` lies in the range (null when it cannot be compared with its ends)."""
    if value is None:
        return None
    below = compare(bounds.start, value) if bounds.start is not None else -1
    above = compare(value, bounds.end) if bounds.end is not None else -1
    if below is None or above is None:
        return None
    low_ok = below < 0 or (below == 0 and bounds.start_included)
    high_ok = above < 0 or (above == 0 and bounds.end_included)
    return low_ok and high_ok
