"""Error pages, and engine errors in the page's language: never a bare traceback.

Engine errors carry a code and parameters (engine/errors.py). `error_message(error)` translates the
code's sentence (engine/error_catalogue.py) through the message catalogues and fills in the
parameters, task, role and status names in the page's language; `field_messages(error)` does
the same per field. Views call them where they catch an error (a flash is text); templates
show an error object with the `ui_message` filter. The cross-field validators of `workflows/`
word their own messages: each is a msgid of the catalogue (VALIDATOR_MESSAGES).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from engine import Conflict, NotFound, PermissionDenied, ValidationFailed, WaypointError
from engine.error_catalogue import MESSAGES
from engine.errors import FieldError

from .process_text import role_name, status_name, task_name

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

#: Parameters that name process content: shown in the page's language.
_NAMED: dict[str, Callable[[str], str]] = {
    "task": lambda name: task_name(None, name),
    "role": role_name,
    "status": status_name,
}


def _text(code: str, params: dict[str, Any]) -> str:
    if code == "rule":  # a validator of workflows/ words it: its English is the msgid
        rule = params["rule"]
        return _(rule)
    shown = {key: _NAMED[key](value) if key in _NAMED and value else value for key, value in params.items()}
    return _(MESSAGES[code], **shown)


def error_message(error: WaypointError) -> str:
    """An engine error in the page's language, its field errors included."""
    text = _text(error.code, error.params)
    if isinstance(error, ValidationFailed) and error.errors:
        details = "; ".join(
            _("%(field)s: %(problem)s", field=e.path or _("(form)"), problem=_text(e.code, e.params))
            for e in error.errors
        )
        return _("%(message)s: %(details)s", message=text, details=details)
    return text


def field_messages(error: WaypointError) -> dict[str, str]:
    """Each field's problem (by path) in the page's language; the whole message under `""`
    when the error names no field."""
    errors: list[FieldError] = getattr(error, "errors", None) or []
    return {e.path: _text(e.code, e.params) for e in errors} or {"": error_message(error)}


def ui_message(shown: object) -> object:
    """Template filter: an engine error in the page's language; text (already in it) as it is."""
    return error_message(shown) if isinstance(shown, WaypointError) else shown


def page(status: int, text: str) -> tuple[str, int]:
    return render_template(
        "errors/error.html", status=status, title=str(TITLES.get(status, _l("Error"))), message=text
    ), status


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(ui_message=ui_message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
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
    def waypoint_error(exc: WaypointError) -> tuple[str, int]:
        if isinstance(exc, NotFound):
            return page(404, _("There is nothing at this address, or you may not see it."))
        if isinstance(exc, PermissionDenied):
            return page(403, error_message(exc))
        if isinstance(exc, Conflict):
            return page(409, error_message(exc))
        if isinstance(exc, ValidationFailed):
            return page(400, error_message(exc))
        return page(exc.status, error_message(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        log.exception("unexpected error")
        return page(500, _("An unexpected error happened. Nothing was changed; please try again."))
