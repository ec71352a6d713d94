"""Email bodies: Jinja2 templates (text + HTML, English and French), dates in words (Babel), calendar files.

Templates live in `engine/mail/templates/<lang>/<kind>.txt|.html`. The text template sets the
subject (`{% set subject %}...{% endset %}`), so one place holds all of a message's wording.
Every template gets the same context keys (see `notifications.task_context`); missing keys are
errors (StrictUndefined), so a typo fails the tests instead of sending an empty line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel import Locale, dates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("en", "fr")
#: The Babel locale of each language, for pages and emails alike, parsed once (Babel parses a
#: locale given by name on every call: half the cost of formatting a date)
LOCALES = {"en": Locale.parse("en_CA"), "fr": Locale.parse("fr_CA")}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Rendered:
    """A rendered email: subject line, plain text and HTML bodies."""

    subject: str
    text: str
    html: str


def language_of(value: str | None) -> str:
    """A supported language code ('en' when unknown)."""
    return value if value in LANGUAGES else "en"


def render(kind: str, lang: str, context: dict[str, Any]) -> Rendered:
    """Render the `kind` email in `lang` with `context`."""
    lang = language_of(lang)
    context = {**context, "lang": lang}
    module = _env.get_template(f"{lang}/{kind}.txt").make_module(context)
    subject = " ".join(str(getattr(module, "subject", "")).split())[:300]
    text = str(module).strip() + "\n"
    html = _env.get_template(f"{lang}/{kind}.html").render(context)
    return Rendered(subject, text, html)


def format_datetime(moment: datetime | None, lang: str, tz: str) -> str:
    """'Thursday, November 5, 2026, 2:00 p.m.' / 'jeudi 5 novembre 2026, 14 h 00' in office time."""
    if moment is None:
        return ""
    locale = LOCALES[language_of(lang)]
    local = moment.astimezone(ZoneInfo(tz))
    day = _format_day(local.date(), "full", lang)
    time = dates.format_time(local, "short", locale=locale)
    return str(dates.get_datetime_format("full", locale=locale)).replace("'", "").format(time, day)


def format_date(day: date | None, lang: str) -> str:
    """'November 5, 2026' / '5 novembre 2026'."""
    return "" if day is None else _format_day(day, "long", lang)


def _format_day(day: date, width: Literal["full", "long"], lang: str) -> str:
    lang = language_of(lang)
    pattern = dates.get_date_format(width, locale=LOCALES[lang]).pattern
    if lang == "fr" and day.day == 1:  # French writes the first of the month "1er"; CLDR's patterns do not
        pattern = pattern.replace("d ", "d'er' ", 1)
    return dates.format_date(day, pattern, locale=LOCALES[lang])


# --- calendar invitations (RFC 5545) ---------------------------------------------------------------
def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (continuation lines start with a space)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def calendar_invitation(
    *,
    uid: str,
    title: str,
    start: date,
    end: date,
    now: datetime,
    organizer: str,
    attendee: str,
    attendee_name: str,
    location: str = "",
    description: str = "",
    url: str = "",
) -> str:
    """An all-day VEVENT from `start` to `end` (inclusive) as a METHOD:REQUEST calendar file."""
    stamp = now.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Waypoint//International Travel and Visits//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape(title)}",
        *([f"LOCATION:{_escape(location)}"] if location else []),
        *([f"DESCRIPTION:{_escape(description)}"] if description else []),
        *([f"URL:{url}"] if url else []),
        f"ORGANIZER;CN=Waypoint:mailto:{organizer}",
        f'ATTENDEE;CN="{attendee_name.replace(chr(34), "")}";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE'
        f":mailto:{attendee}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "SEQUENCE:0",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
