"""FEEL dates, times, date-times and durations: reading their text, writing durations, month arithmetic."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.feel.values import YearsMonths

_DATE = re.compile(r"^(-?\d{4,9})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}|@[A-Za-z_/+\-0-9]+)?$")
_DURATION = re.compile(
    r"^(-)?P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_date(text: str) -> date | None:
    match = _DATE.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text == "Z":
        return UTC
    if text.startswith("@"):
        try:
            return ZoneInfo(text[1:])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(text) from None
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_time(text: str) -> time | None:
    match = _TIME.match(text.strip())
    if not match:
        return None
    try:
        micro = int((match[4] or ".0")[1:7].ljust(6, "0"))
        return time(int(match[1]), int(match[2]), int(match[3]), micro, tzinfo=_zone(match[5]))
    except ValueError:
        return None


def parse_date_time(text: str) -> datetime | date | None:
    """A date-time (or, for a bare date, that date at midnight)."""
    text = text.strip()
    if "T" not in text:
        day = parse_date(text)
        return datetime(day.year, day.month, day.day) if day else None
    day_text, _, time_text = text.partition("T")
    day, clock = parse_date(day_text), parse_time(time_text)
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock)


def parse_duration(text: str) -> timedelta | YearsMonths | None:
    match = _DURATION.match(text.strip())
    if not match:
        return None
    sign = -1 if match[1] else 1
    years, months, days, hours, minutes = (int(match[i] or 0) for i in range(2, 7))
    seconds = Decimal(match[7] or 0)
    if (years or months) and not (days or hours or minutes or seconds):
        return YearsMonths(sign * (years * 12 + months))
    if years or months:
        return None
    try:
        return sign * timedelta(days=days, hours=hours, minutes=minutes, seconds=float(seconds))
    except OverflowError:
        return None


def parse_temporal(text: str) -> Any:
    """An `@"..."` literal: whichever of date, date-time, time or duration the text is."""
    for reader in (parse_date, parse_date_time, parse_time, parse_duration):
        value = reader(text)
        if value is not None:
            return value
    return None


def add_months(value: date, months: int) -> date:
    """`value` moved by whole months, the day clamped to the month's last day."""
    total = value.year * 12 + value.month - 1 + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def months_between(start: date, end: date) -> YearsMonths:
    """The whole months from `start` to `end`, as FEEL's `years and months duration` counts them."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and (end.day, _clock(end)) < (start.day, _clock(start)):
        months -= 1
    elif months < 0 and (end.day, _clock(end)) > (start.day, _clock(start)):
        months += 1
    return YearsMonths(months)


def _clock(value: date) -> tuple:
    return (value.hour, value.minute, value.second, value.microsecond) if isinstance(value, datetime) else (0, 0, 0, 0)
