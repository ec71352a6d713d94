"""Language choice and locale-aware formatting (English and French).

The language comes from, in order: the `lang` chosen in this session, the signed-in user's
preference, the browser's Accept-Language, English. Process content (form titles, enum
labels) carries its French in `x-fr` objects; `localized(node, "title")` picks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_locale

from engine.countries import country_name
from engine.mail.bodies import LOCALES  # one locale per language for pages and emails, parsed once
from engine.models.processes import summary_line_in
from engine.queries import inbox

LANGUAGES = ("en", "fr")


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    return request.accept_languages.best_match(LANGUAGES) or "en"


def language() -> str:
    return str(get_locale() or "en")[:2]


def localized(node: dict[str, Any] | None, key: str = "title", default: str = "") -> str:
    """`node[key]`, or its French in `node["x-fr"][key]` when the page is in French."""
    if not node:
        return default
    if language() == "fr":
        french = (node.get("x-fr") or {}).get(key)
        if french:
            return french
    return node.get(key) or default


def summary_line(row: Any) -> str:
    """A request's summary line in the page's language: `summary_fr` on French pages where one
    was saved, else `summary` (`row`: an instance, a query row or a dict holding them)."""
    get = row.get if isinstance(row, Mapping) else lambda key: getattr(row, key, None)
    return summary_line_in(language(), get("summary"), get("summary_fr"))


def money(value: Any) -> str:
    try:
        return format_currency(float(value), "CAD", locale=LOCALES[language()])
    except (TypeError, ValueError, ArithmeticError):  # not a number, or one Babel cannot round (1E100)
        return str(value)


def number(value: Any, fmt: str | None = None) -> str:
    """A number the locale's way (`1 234,5` / `1,234.5`); `fmt` is a Babel pattern such as `#,##0.0#`."""
    try:
        return format_decimal(value, format=fmt, locale=LOCALES[language()])
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


def count(value: int) -> str:
    """An inbox count the locale's way, `1,000+` once it reached the inbox's cap."""
    return number(value) + ("+" if value >= inbox.COUNT_CAP else "")


def when(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    tz = ZoneInfo(current_app.config["WAYPOINT_SETTINGS"].timezone)
    return format_datetime(value.astimezone(tz), format=fmt, locale=LOCALES[language()])


def day(value: Any) -> str:
    if not value:
        return ""
    try:
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return format_date(parsed, format="medium", locale=LOCALES[language()])


def day_name(value: Any) -> str:
    """The weekday's name in the page language."""
    return format_date(value, format="EEEE", locale=LOCALES[language()])


def age(value: datetime | None, now: datetime) -> str:
    """How long ago, in words ("3 days", "3 jours")."""
    if value is None:
        return ""
    return format_timedelta(now - value, threshold=1.5, locale=LOCALES[language()])


def country(code: Any) -> str:
    """A country's name in the page language, from its ISO code ("DE" → "Allemagne")."""
    return country_name(code, language())


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        money=money,
        number=number,
        count=count,
        when=when,
        day=day,
        age=age,
        day_name=day_name,
        summary_line=summary_line,
        country=country,
    )
    app.jinja_env.globals.update(localized=localized, language=language, LANGUAGES=LANGUAGES)
