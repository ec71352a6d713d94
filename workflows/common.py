"""Shared pieces of the per-process glue: date arithmetic, formatting and validator building blocks.

Nothing here registers with the engine; the process modules use these functions in their helpers,
summary lines and validators. Dates in task data are ISO strings ("2026-11-04"). Validators return
(field path, message) pairs; a path names a top-level field or a nested one with dots and list
indexes ("costs.other", "members.0.name").
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from babel import Locale
from babel.dates import get_month_names
from babel.numbers import format_currency

from engine.clock import current_time
from engine.countries import country_code
from engine.mail.bodies import LOCALES

Errors = list[tuple[str, str]]


def parse_date(value: Any) -> datetime.date | None:
    """The date of an ISO date (or date-time) string, or None when it is missing or malformed."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def add_months_to(day: datetime.date, months: int) -> datetime.date:
    """`day` moved by `months` calendar months, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_blank(value: Any) -> bool:
    """True when a submitted value is missing, None, or a string of whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_number(value: Any) -> float | None:
    """`value` as a float when it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _locale(language: str) -> Locale:
    return LOCALES.get(language, LOCALES["en"])


def in_language(language: str, english: str, french: str) -> str:
    """The words of a summary line in the reader's language ("en" or "fr")."""
    return french if language == "fr" else english


def format_money(amount: Any, language: str = "en") -> str:
    """Dollars for a summary line, the language's way: 4310 -> "$4,310" / "4 310 $",
    4310.5 -> "$4,310.50" / "4 310,50 $"."""
    number = as_number(amount)
    if number is None:
        return ""
    locale = _locale(language)
    pattern = locale.currency_formats["standard"].pattern
    try:
        if number == int(number):
            pattern = pattern.replace("0.00", "0")  # whole dollars show no cents
        return format_currency(number, "CAD", format=pattern, locale=locale, currency_digits=False)
    except (ArithmeticError, ValueError):  # infinite (OverflowError), or too large for Babel to round (1e100)
        return str(amount)


def format_date_range(start: Any, end: Any, this_year: int | None = None, language: str = "en") -> str:
    """A compact range, with the year where it is not `this_year` (by default the year of the action
    in progress, which saves the summary line: engine.clock.current_time): "4–7 Nov", "30 Oct–2 Nov",
    "8–11 Mar 2027", "30 Dec 2026–2 Jan 2027" (French: "4–7 nov.", "30 oct.–2 nov.")."""
    first, last = parse_date(start), parse_date(end)
    if first is None:
        return ""
    months = get_month_names("abbreviated", locale=_locale(language))
    year = "" if first.year == (this_year or current_time().year) else f" {first.year}"
    if last is None or last == first:
        return f"{first.day} {months[first.month]}{year}"
    if first.year != last.year:
        return f"{first.day} {months[first.month]} {first.year}–{last.day} {months[last.month]} {last.year}"
    if first.month != last.month:
        return f"{first.day} {months[first.month]}–{last.day} {months[last.month]}{year}"
    return f"{first.day}–{last.day} {months[first.month]}{year}"


def join_parts(*parts: Any) -> str:
    """Non-empty parts joined with an em dash, the separator of every summary line."""
    return " — ".join(str(p) for p in parts if p not in (None, ""))


def require_comment(
    data: Mapping[str, Any],
    decision: str,
    values: Iterable[str],
    comment: str,
    message: str = "A comment is required for this decision.",
) -> Errors:
    """Error on `comment` when `decision` holds one of `values` and the comment is blank."""
    if data.get(decision) in set(values) and is_blank(data.get(comment)):
        return [(comment, message)]
    return []


def require_fields(
    data: Mapping[str, Any], fields: Iterable[str], prefix: str = "", message: str = "This field is required."
) -> Errors:
    """Errors for each of `fields` that is blank in `data` (paths prefixed with `prefix`)."""
    return [(f"{prefix}{name}", message) for name in fields if is_blank(data.get(name))]


def check_date_order(
    data: Mapping[str, Any], start: str, end: str, message: str = "The end date must be on or after the start date."
) -> Errors:
    """Errors when `start` or `end` is not a valid date, or `end` comes before `start`."""
    errors: Errors = []
    first, last = parse_date(data.get(start)), parse_date(data.get(end))
    if data.get(start) is not None and first is None:
        errors.append((start, "Enter a valid date (YYYY-MM-DD)."))
    if data.get(end) is not None and last is None:
        errors.append((end, "Enter a valid date (YYYY-MM-DD)."))
    if first is not None and last is not None and last < first:
        errors.append((end, message))
    return errors


def check_passport(passport: Any, path: str) -> Errors:
    """Errors for a {held, number, expiry} passport record: number and a valid expiry when held."""
    if not isinstance(passport, Mapping):
        return [(path, "Say whether a valid official or diplomatic passport is held.")]
    if passport.get("held") is not True:
        return []
    errors = require_fields(passport, ("number",), prefix=f"{path}.")
    if parse_date(passport.get("expiry")) is None:
        errors.append((f"{path}.expiry", "Enter the passport's expiry date (YYYY-MM-DD)."))
    return errors


def iso_country(value: Any) -> str | None:
    """The ISO 3166-1 alpha-2 code of a picked code or of a country name in English or French
    ("Russie", "russia", "RU" -> "RU"), as the decision tables match countries; None when unknown."""
    return country_code(value)
