"""One error shape for the whole API: `{"error": {"code", "message", "details"}}` with a fitting status.

Engine errors carry their own `status` and `kind` (the `code` here) and a specific code with its
parameters (`details.reason`, `details.params`: engine/errors.py); validation errors list field
paths relative to the request body (`data.trip_end_date`), each with its own reason and params;
HTTP errors raised by Flask (unknown path, wrong method, body too large) and unexpected
exceptions get the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import DefinitionError, ValidationFailed, WaypointError
from engine.errors import FieldError

log = logging.getLogger("waypoint.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(WaypointError):
    """An API-level failure (bad JSON, wrong media type, precondition, authentication)."""

    def __init__(self, status: int, kind: str, message: str, details: dict | None = None, headers: dict | None = None):
        Exception.__init__(self, message)  # API wording, never shown on a page: not in the engine's catalogue
        self.status, self.kind, self.code, self.params = status, kind, kind, {}
        self.details = details or {}
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict | None = None
) -> Response:
    """The JSON error body with `status`."""
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="waypoint"')
    return response


def _field_paths(errors: list[FieldError]) -> list[dict[str, Any]]:
    prefix = g.get("api_field_prefix") or ""
    return [
        {"path": ".".join(p for p in (prefix, e.path) if p), "message": e.message, "reason": e.code, "params": e.params}
        for e in errors
    ]


def from_waypoint_error(exc: WaypointError) -> Response:
    """The response for an engine (or API) error."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.kind, str(exc), exc.details, exc.headers)
    details: dict[str, Any] = {"reason": exc.code, "params": exc.params}
    if isinstance(exc, ValidationFailed):
        return error_response(400, exc.kind, exc.args[0], {**details, "fields": _field_paths(exc.errors)})
    if isinstance(exc, DefinitionError):
        return error_response(exc.status, exc.kind, exc.args[0], {**details, "findings": exc.findings})
    return error_response(exc.status, exc.kind, str(exc), details)


def register(bp: Blueprint) -> None:
    """Install the JSON error handlers on the API blueprint."""

    @bp.errorhandler(WaypointError)
    def waypoint_error(exc: WaypointError) -> Response:
        return from_waypoint_error(exc)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or HTTP_CODES.get(status, "error")
        if status == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            message = f"the request body is larger than {limit // (1024 * 1024)} MB"
        headers = {"Allow": ", ".join(methods)} if (methods := getattr(exc, "valid_methods", None)) else {}
        return error_response(status, HTTP_CODES.get(status, "error"), message, headers=headers)

    @bp.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected API error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error happened; nothing was changed")
