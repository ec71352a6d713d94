"""FEEL's values in Python, their limits, and conversion to and from task data.

Numbers are `Decimal` in a 34-digit context (FEEL's decimal128) whose exponent range is capped, so
no expression builds an unbounded integer; strings and lists have size caps. Dates, times and
date-times are `datetime` objects; a days-and-time duration is a `timedelta` and a years-and-months
duration a `YearsMonths`. A range is a `Range`; a function (built-in, user-defined or a DMN
business knowledge model) is a `Function`.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.errors import ScriptError

MAX_STRING = 1_000_000
MAX_LIST = 100_000
MAX_STEPS = 200_000
#: characters of strings and items of lists one evaluation may build in all
MAX_ALLOCATED = 20_000_000

NUMBERS = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=6144,
    Emin=-6143,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


class FeelLimit(ScriptError):
    """An evaluation went past a size or step limit."""


@dataclass(frozen=True, order=True)
class YearsMonths:
    """A years-and-months duration, kept as a signed count of months."""

    months: int

    def iso(self) -> str:
        sign, months = ("-" if self.months < 0 else ""), abs(self.months)
        years, rest = divmod(months, 12)
        body = (f"{years}Y" if years else "") + (f"{rest}M" if rest or not years else "")
        return f"{sign}P{body}"


@dataclass(frozen=True)
class Range:
    """An interval; an open end (None) stands for a unary comparison such as `< 5`."""

    start: Any
    end: Any
    start_included: bool = True
    end_included: bool = True


@dataclass(frozen=True)
class Function:
    """A callable FEEL value: its parameter names and a Python body taking FEEL values."""

    params: tuple[str, ...]
    body: Callable[..., Any]
    name: str = "function"
    variadic: bool = False

    def invoke(self, positional: list[Any], named: Mapping[str, Any] | None = None) -> Any:
        if named is not None:
            unknown = set(named) - set(self.params)
            if unknown:
                return None
            positional = [named.get(p) for p in self.params]
        elif not self.variadic and len(positional) > len(self.params):
            return None
        elif not self.variadic:
            positional = positional + [None] * (len(self.params) - len(positional))
        return self.body(*positional)


def number(value: Any) -> Decimal:
    """A FEEL number from a Python int, float or Decimal, in FEEL's context."""
    if isinstance(value, float):
        return NUMBERS.create_decimal(repr(value))
    return NUMBERS.create_decimal(value)


def check_size(value: Any) -> Any:
    """`value`, or FeelLimit when a string or list is over its cap."""
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise FeelLimit("feel_too_large", what="string", limit=f"{MAX_STRING:,} characters")
    if isinstance(value, list) and len(value) > MAX_LIST:
        raise FeelLimit("feel_too_large", what="list", limit=f"{MAX_LIST:,} items")
    return value


def to_feel(value: Any) -> Any:
    """Task data (JSON-like Python) as FEEL values."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, Decimal, Range, Function)):
        return value
    if isinstance(value, (int, float)):
        try:
            return number(value)
        except (decimal.InvalidOperation, decimal.Overflow):
            return None
    if isinstance(value, Mapping):
        return {str(k): to_feel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_feel(v) for v in value]
    return value  # dates, times, durations: already FEEL values


def to_python(value: Any) -> Any:
    """A FEEL value as task data: integral numbers become int, others float; dates ISO text."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < Decimal(2**63):
            return int(value)
        return float(value)
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, YearsMonths):
        return value.iso()
    return value


def format_duration(value: timedelta) -> str:
    """ISO 8601 text of a days-and-time duration (`P1DT2H`, `-PT30M`)."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or value.microseconds:
        fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        clock += f"{seconds}{fraction}S"
    body = (f"{value.days}D" if value.days else "") + (f"T{clock}" if clock else "")
    return f"{sign}P{body or 'T0S'}"


def type_name(value: Any) -> str:
    """FEEL's name for the type of `value`."""
    if value is None:
        return "Null"
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "boolean"),
        (Decimal, "number"),
        (str, "string"),
        (datetime, "date and time"),
        (date, "date"),
        (time, "time"),
        (timedelta, "days and time duration"),
        (YearsMonths, "years and months duration"),
        (list, "list"),
        (dict, "context"),
        (Range, "range"),
        (Function, "function"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "Any")
