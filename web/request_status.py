"""A request's status in the page's language: the engine's `RequestStatus` (engine/request_status.py)
as words and a badge, for the request page, the register and "Requests I started"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import pgettext
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from engine.request_status import RequestStatus, fill

from .context import engine
from .i18n import day, language
from .process_text import role_name


def status_text(status: RequestStatus | None) -> str:
    """The status in words ("Pending approval by Marc Smith", « Renvoyée pour modifications »)."""
    if status is None:
        return ""
    if status.kind == "designer":
        words = status.text.get(language()) or status.text.get("en", "")
        return fill(words, {k: day(v) for k, v in status.dates.items() if v})
    who = status.who or role_name(status.role)
    party = status.party.get(language()) or status.party.get("en", "")
    texts = {
        "pending_approval": lambda: _("Pending approval by %(who)s", who=who) if who else _("Pending approval"),
        "waiting_for_person": lambda: _("Waiting for %(who)s", who=who) if who else _("Waiting for the requester"),
        "waiting_for_party": lambda: _("Waiting for %(party)s", party=party),
        "waiting_outside": lambda: _("Waiting for an outside event"),
        "waiting_until": lambda: _("Waiting until %(date)s", date=day(status.on)),
        "in_progress": lambda: _("Submitted"),
        "rejected": lambda: pgettext("request status", "Rejected"),
        "closed": lambda: pgettext("request status", "Closed"),
        "withdrawn": lambda: _("Withdrawn"),
        "cancelled": lambda: _("Cancelled by the office"),
        "error": lambda: _("Stopped by an error"),
    }
    return str(texts[status.kind]()) if status.kind in texts else status.kind


def status_badge(status: RequestStatus | None) -> Markup:
    """The status as a badge coloured by its tone."""
    if status is None:
        return Markup("")
    return Markup('<span class="badge request-status tone-{}">{}</span>').format(
        status.tone, escape(status_text(status))
    )


def statuses_for(session: Session, ids: Iterable[int]) -> dict[int, Any]:
    """The status of each listed request (the engine reads them, a page at a time)."""
    return engine().request_statuses(session, list(ids))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(status_text=status_text, status_badge=status_badge)
