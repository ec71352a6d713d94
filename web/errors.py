"""Error pages: engine errors map to 400/403/404/409/422 pages, never a bare traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine import Conflict, NotFound, PermissionDenied, ValidationFailed, WaypointError

log = logging.getLogger("waypoint.web")

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    409: "Someone else was faster",
    413: "File too large",
    422: "Cannot be processed",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def page(status: int, message: str):  # type: ignore[no-untyped-def]
    return render_template(
        "errors/error.html", status=status, title=_(TITLES.get(status, "Error")), message=message
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
        return page(status, messages.get(status, exc.description or ""))

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
