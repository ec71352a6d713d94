"""FEEL's conversion and temporal built-ins: `date`, `time`, `date and time`, `duration`, `number`,
`string`, `today`, `now`, `day of week` and friends. `today()` and `now()` read the engine's clock."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import current_time
from engine.feel.builtins import builtin
from engine.feel.operators import ym_between
from engine.feel.temporal import parse_date, parse_date_time, parse_duration, parse_time
from engine.feel.values import NUMBERS, Function, Range, YearsMonths, format_duration

#: the office's time zone, for `today()` when no office calendar is set below
OFFICE_ZONE: ContextVar[str] = ContextVar("feel_office_zone", default="America/Toronto")
#: the office's date as the engine computes it (its clock, its configured time zone), while a decision runs
OFFICE_TODAY: ContextVar[Callable[[], date] | None] = ContextVar("feel_office_today", default=None)
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = "January February March April May June July August September October November December".split()


def _int(*values: Any) -> bool:
    return all(isinstance(v, Decimal) and v == v.to_integral_value() for v in values)


@builtin("date", "from;month;day")
def _date(value: Any, month: Any = None, day: Any = None) -> date | None:
    if month is not None or day is not None:
        return date(int(value), int(month), int(day)) if _int(value, month, day) else None
    if isinstance(value, str):
        return parse_date(value)
    return value.date() if isinstance(value, datetime) else value if isinstance(value, date) else None


@builtin("time", "from;minute;second;offset")
def _time(value: Any, minute: Any = None, second: Any = None, offset: Any = None) -> time | None:
    if minute is not None:
        if not (_int(value, minute) and isinstance(second, Decimal)):
            return None
        zone = timezone(offset) if isinstance(offset, timedelta) else None
        whole = int(second)
        return time(int(value), int(minute), whole, int((second - whole) * 1_000_000), tzinfo=zone)
    if isinstance(value, str):
        return parse_time(value)
    if isinstance(value, datetime):
        return value.timetz()
    return time(0, 0, 0) if isinstance(value, date) else None


@builtin("date and time", "from;time")
def _date_time(value: Any, clock: Any = None) -> datetime | None:
    if clock is not None:
        if isinstance(value, date) and isinstance(clock, time):
            return datetime.combine(value if not isinstance(value, datetime) else value.date(), clock)
        return None
    if isinstance(value, str):
        parsed = parse_date_time(value)
        return parsed if isinstance(parsed, datetime) else None
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day) if isinstance(value, date) else None


@builtin("duration", "from")
def _duration(text: Any) -> Any:
    return parse_duration(text) if isinstance(text, str) else None


@builtin("years and months duration", "from;to")
def _ym(start: Any, end: Any) -> YearsMonths | None:
    return ym_between(start, end)


@builtin("today", "")
def _today() -> date:
    office_today = OFFICE_TODAY.get()
    if office_today is not None:
        return office_today()
    return current_time().astimezone(ZoneInfo(OFFICE_ZONE.get())).date()


@builtin("now", "")
def _now() -> datetime:
    return current_time()


@builtin("day of week", "date")
def _day_of_week(value: Any) -> str | None:
    return _DAYS[value.weekday()] if isinstance(value, date) else None


@builtin("month of year", "date")
def _month_of_year(value: Any) -> str | None:
    return _MONTHS[value.month - 1] if isinstance(value, date) else None


@builtin("day of year", "date")
def _day_of_year(value: Any) -> Decimal | None:
    return Decimal(value.timetuple().tm_yday) if isinstance(value, date) else None


@builtin("week of year", "date")
def _week_of_year(value: Any) -> Decimal | None:
    return Decimal(value.isocalendar()[1]) if isinstance(value, date) else None


@builtin("number", "from;grouping separator;decimal separator")
def _number(text: Any, grouping: Any = None, separator: Any = None) -> Decimal | None:
    if not isinstance(text, str) or len(text) > 200:
        return None
    if grouping:
        text = text.replace(grouping, "")
    if separator:
        text = text.replace(separator, ".")
    try:
        value = NUMBERS.create_decimal(text.strip())
    except decimal.InvalidOperation:
        return None
    return value if value.is_finite() else None


@builtin("string", "from")
def _string(value: Any) -> str | None:
    return None if value is None else to_text(value)


def to_text(value: Any) -> str:
    """FEEL's `string(x)`: the text form of any value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, YearsMonths):
        return value.iso()
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_quoted(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Range):
        left = "[" if value.start_included else "("
        right = "]" if value.end_included else ")"
        return f"{left}{_quoted(value.start)}..{_quoted(value.end)}{right}"
    if isinstance(value, Function):
        return f"function {value.name}"
    return "null" if value is None else str(value)


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else to_text(value)
