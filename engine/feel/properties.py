"""Properties of FEEL's non-context values: `d.year`, `t.hour`, `duration.days`, `range.start`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.feel.values import Range, YearsMonths


def _offset(value: datetime | time) -> Any:
    offset = value.utcoffset()
    return offset if offset is not None else None


def _date_properties(value: date) -> dict[str, Any]:
    return {
        "year": Decimal(value.year),
        "month": Decimal(value.month),
        "day": Decimal(value.day),
        "weekday": Decimal(value.isoweekday()),
    }


def _time_properties(value: datetime | time) -> dict[str, Any]:
    zone = value.tzinfo
    return {
        "hour": Decimal(value.hour),
        "minute": Decimal(value.minute),
        "second": Decimal(value.second),
        "time offset": _offset(value),
        "timezone": getattr(zone, "key", None),
    }


def _duration_properties(value: timedelta) -> dict[str, Any]:
    sign = -1 if value < timedelta(0) else 1
    whole = abs(value)
    hours, rest = divmod(whole.seconds, 3600)
    return {
        "days": Decimal(sign * whole.days),
        "hours": Decimal(sign * hours),
        "minutes": Decimal(sign * (rest // 60)),
        "seconds": Decimal(sign * (rest % 60)),
    }


def temporal_property(target: Any, key: str) -> Any:
    """The named property of a date, time, date-time, duration or range (None if it has none)."""
    properties: dict[str, Any] = {}
    if isinstance(target, datetime):
        properties = {**_date_properties(target), **_time_properties(target)}
    elif isinstance(target, date):
        properties = _date_properties(target)
    elif isinstance(target, time):
        properties = _time_properties(target)
    elif isinstance(target, timedelta):
        properties = _duration_properties(target)
    elif isinstance(target, YearsMonths):
        sign = -1 if target.months < 0 else 1
        properties = {
            "years": Decimal(sign * (abs(target.months) // 12)),
            "months": Decimal(sign * (abs(target.months) % 12)),
        }
    elif isinstance(target, Range):
        properties = {
            "start": target.start,
            "end": target.end,
            "start included": target.start_included,
            "end included": target.end_included,
        }
    return properties.get(key)
