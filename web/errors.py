"""Error pages: engine errors map to 400/403/404/409/422 pages, never a bare traceback.

Engine messages are English sentences built in engine code (`str(error)`). In French, the
`ui_message` filter (used wherever the pages show such a message: flashes, field errors, the
task page, error pages) turns the common ones into French: exact messages and a few patterns
below, plus the cross-field validators' messages of `workflows/`. Anything else stays English.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from engine import Conflict, NotFound, PermissionDenied, ValidationFailed, WaypointError

from .i18n import language

log = logging.getLogger("waypoint.web")

TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not available"),
    409: _l("Someone else was faster"),
    413: _l("File too large"),
    422: _l("Cannot be processed"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Temporarily unavailable"),
}

#: Engine messages shown as they are (English) and their French.
ENGINE_MESSAGES = {
    str(m): m
    for m in (
        _l("you started this request, so you cannot approve or review it yourself"),
        _l("this task is no longer open"),
        _l("this task is not claimed"),
        _l("only the person who claimed this task (or an admin) can release it"),
        _l("only the person who started this request (or an admin) can cancel it"),
        _l("the request changed since you opened it: reload and try again"),
        _l("someone else changed this request at the same moment: reload and try again"),
        _l("choose a PDF, PNG or JPEG file"),
        _l("only PDF, PNG and JPEG files are accepted"),
        _l("the file is empty"),
        _l("files may be at most 10 MB"),
        _l("the file is larger than 10 MB"),
        _l("the file is missing from storage"),
        _l("this field is required"),
        _l("this form has no such field"),
        _l("the form has errors"),
        _l("enter a number"),
        _l("enter a whole number"),
        _l("text may not contain NUL characters"),
        _l("Text may not contain NUL characters."),
        _l("no such task"),
        _l("no such file"),
        _l("the waiting event moved on before the message arrived"),
    )
}

#: The cross-field validators' messages (workflows/*.py), which tests/web/test_i18n.py keeps in
#: step with the code.
VALIDATOR_MESSAGES = (
    _l("A comment is required for this decision."),
    _l("At least one member must attend."),
    _l("Choose a sensitivity level from 1 to 3."),
    _l("Choose granted or refused."),
    _l("Choose the passport type."),
    _l("Costs cannot be negative."),
    _l("Describe the damage or the loss."),
    _l("Describe the follow-up."),
    _l("Describe the incidents."),
    _l("Describe the other costs."),
    _l("Enter a country."),
    _l("Enter a valid date (YYYY-MM-DD)."),
    _l("Enter an amount (0 if none)."),
    _l("Enter the actual total cost (0 or more)."),
    _l("Enter the briefing date (YYYY-MM-DD)."),
    _l("Enter the date the letters were sent (YYYY-MM-DD)."),
    _l("Enter the date you will return the passport."),
    _l("Enter the estimated costs."),
    _l("Enter the expiry date (YYYY-MM-DD)."),
    _l("Enter the information obtained."),
    _l("Enter the member's details."),
    _l("Enter the passport number."),
    _l("Enter the passport's expiry date (YYYY-MM-DD)."),
    _l("Enter the return date (YYYY-MM-DD)."),
    _l("Enter the sign-out date (YYYY-MM-DD)."),
    _l("Explain the rejection or the changes needed."),
    _l("Explain the rejection."),
    _l("Explain why funds cannot be confirmed."),
    _l("Give at least one destination."),
    _l("Give the cost centre."),
    _l("Give the interpreter's language."),
    _l("Give the reason."),
    _l("List at least one delegation member."),
    _l("List at least one site."),
    _l("Name the host unit's contact."),
    _l("Name the site."),
    _l("Say to whom the approval was reassigned."),
    _l("Say what information is needed."),
    _l("Say when and where the passport was lost or stolen."),
    _l("Say whether a valid official or diplomatic passport is held."),
    _l("State the conditions."),
    _l("The briefing must take place on or before the departure date."),
    _l("The date of birth must be before the visit."),
    _l("The end date must be on or after the start date."),
    _l("The last day must be on or after the first day."),
    _l("The return date is before the sign-out date."),
    _l("The return date must be on or after the departure date."),
    _l("The sign-out date is after the trip's return date."),
    _l("This destination is already listed."),
    _l("This field is required."),
)
_EXACT = {**ENGINE_MESSAGES, **{str(m): m for m in VALIDATOR_MESSAGES}}


def _task(name: str) -> str:
    from .process_text import task_name

    return task_name(None, name)


def _already(m: re.Match) -> str:
    name, status, who = _task(m["name"]), m["status"], m["who"]
    if status == "completed":
        return (
            _("task “%(name)s” was already completed by %(who)s", name=name, who=who)
            if who
            else _("task “%(name)s” was already completed", name=name)
        )
    if status == "cancelled":
        return _("task “%(name)s” was already cancelled", name=name)
    return _("task “%(name)s” is no longer open", name=name)


def _details(m: re.Match) -> str:
    if not m["details"]:
        return m["head"] + _("the form has errors")
    parts = []
    for part in m["details"].split("; "):
        path, sep, message = part.partition(": ")
        parts.append(f"{path}{sep}{ui_message(message)}" if sep else str(ui_message(part)))
    return m["head"] + _("the form has errors: %(details)s", details="; ".join(parts))


#: (engine wording, French rendering) for messages with names and numbers in them.
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match], str]]] = [
    (re.compile(r"^(?P<head>|.*?: )the form has errors(?:: (?P<details>.+))?$", re.S), _details),
    (re.compile(r"^task '(?P<name>.+)' was already (?P<status>\w+)(?: by (?P<who>.+))?$"), _already),
    (
        re.compile(r"^task '(?P<name>.+)' is assigned to (?P<who>.+)$"),
        lambda m: _("task “%(name)s” is assigned to %(who)s", name=_task(m["name"]), who=m["who"]),
    ),
    (
        re.compile(r"^(?P<who>.+) is working on task '(?P<name>.+)'$"),
        lambda m: _("%(who)s is working on task “%(name)s”", who=m["who"], name=_task(m["name"])),
    ),
    (
        re.compile(r"^task '(?P<name>.+)' needs the role '(?P<role>.+)'$"),
        lambda m: _("task “%(name)s” needs the role “%(role)s”", name=_task(m["name"]), role=_role(m["role"])),
    ),
    (
        re.compile(r"^task '(?P<name>.+)' is no longer waiting: reload the request$"),
        lambda m: _("task “%(name)s” is no longer waiting: reload the request", name=_task(m["name"])),
    ),
    (
        re.compile(r"^instance (?P<id>\d+) is (?P<status>\w+), not running$"),
        lambda m: _("request #%(id)s is %(status)s, no longer in progress", id=m["id"], status=_status(m["status"])),
    ),
    (
        re.compile(r"^needs more than an approval: (?P<detail>.+)$", re.S),
        lambda m: _("needs more than an approval: %(detail)s", detail=ui_message(m["detail"])),
    ),
    # jsonschema's own messages (value first: "5 is less than the minimum of 10")
    (re.compile(r" is too long$"), lambda m: _("too long")),
    (re.compile(r" is too short$"), lambda m: _("too short")),
    (re.compile(r" should be non-empty$"), lambda m: _("this field is required")),
    (
        re.compile(r" is less than (?:or equal to )?the minimum of (?P<n>\S+)$"),
        lambda m: _("must be at least %(n)s", n=m["n"]),
    ),
    (
        re.compile(r" is greater than (?:or equal to )?the maximum of (?P<n>\S+)$"),
        lambda m: _("must be at most %(n)s", n=m["n"]),
    ),
    (re.compile(r" is not one of "), lambda m: _("choose one of the options")),
    (re.compile(r" is not a '(?:date|date-time)'$"), lambda m: _("Enter a valid date (YYYY-MM-DD).")),
    (re.compile(r" is not of type '(?:number|integer)'$"), lambda m: _("enter a number")),
    (re.compile(r" is not of type "), lambda m: _("this value has the wrong type")),
    (re.compile(r" does not match "), lambda m: _("this value is not in the expected format")),
]


def _role(role: str) -> str:
    from .process_text import role_name

    return role_name(role)


def _status(status: str) -> str:
    from .process_text import status_name

    return status_name(status)


def ui_message(text: object) -> object:
    """An engine or validator message in the page's language (French for the known ones)."""
    if text is None or language() != "fr" or isinstance(text, Markup):
        return text
    raw = str(text)
    known = _EXACT.get(raw.strip())
    if known is not None:
        return str(known)
    for pattern, render in _PATTERNS:
        match = pattern.search(raw)
        if match:
            return render(match)
    # Already French (a flash worded in web/), with an English task name between guillemets.
    return _QUOTED.sub(lambda m: f"{m[1]}{_task(m[2])}{m[3]}", raw)


_QUOTED = re.compile("(«\u00a0)([^«»]+?)(\u00a0»)")


def page(status: int, message: str):  # type: ignore[no-untyped-def]
    return render_template(
        "errors/error.html", status=status, title=str(TITLES.get(status, _l("Error"))), message=message
    ), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if status == 400 and exc.description == "csrf":
            return page(
                400, _("This form has expired or did not come from Waypoint. Go back, reload the page and try again.")
            )
        if status == 413:
            return page(413, _("The upload is too large (at most 10 MB)."))
        messages = {
            404: _("There is nothing at this address, or you may not see it."),
            403: _("You are not allowed to do that."),
            405: _("That action is not available here."),
        }
        if status in messages:
            return page(status, messages[status])
        generic = {
            400: _("Waypoint could not understand this request. Go back and try again."),
            429: _("Too many attempts. Wait a few minutes and try again."),
            500: _("An unexpected error happened. Nothing was changed; please try again."),
            503: _("Waypoint is unavailable for a moment. Try again in a minute."),
        }
        own = exc.description if exc.description and exc.description != type(exc).description else None
        return page(status, own or generic.get(status, exc.description or ""))

    @app.errorhandler(WaypointError)
    def waypoint_error(exc: WaypointError):  # type: ignore[no-untyped-def]
        if isinstance(exc, NotFound):
            return page(404, _("There is nothing at this address, or you may not see it."))
        if isinstance(exc, PermissionDenied):
            return page(403, str(exc))
        if isinstance(exc, Conflict):
            return page(409, str(exc))
        if isinstance(exc, ValidationFailed):
            return page(400, str(exc))
        return page(exc.status, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unexpected error")
        return page(500, _("An unexpected error happened. Nothing was changed; please try again."))
