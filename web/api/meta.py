"""The OpenAPI 3.1 document (built from the declared operations), its docs page, `/me`, and JSON
answers for unknown paths and methods under /api/v1/."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, render_template, request
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from engine.people.service_accounts import account_view, service_account

from ..context import db
from .auth import current_user
from .blueprint import bp
from .problems import HTTP_CODES, error_response
from .schemas import COMPONENTS, ref
from .spec import OPERATIONS, PREFIX, Operation, operation

API_VERSION = "1.0.0"
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")

DESCRIPTION = """\
Waypoint's JSON API: start requests, work on tasks, deliver BPMN messages, read requests and their history.

**Authentication.** Every call except this document and the docs page needs
`Authorization: Bearer <token>`. People create tokens at `/account/tokens`; admins create
service accounts (integrations with only the roles and message grants they need) and their tokens,
also with `waypoint tokens create USER` and `waypoint service-accounts add NAME`. A token acts as its
user: the same permission and visibility rules as the web pages apply (a request you may not see is 404).

**Errors** have one shape, `{"error": {"code", "message", "details"}}`; engine errors add the
specific `details.reason` (`task_needs_role`) and its `details.params`; validation errors list
`details.fields[].path` relative to the request body (`data.trip_end_date`), each with its `reason`.

**Idempotency.** Send `Idempotency-Key: <uuid>` on POSTs: a retry with the same key and body returns
the first answer (header `Idempotent-Replayed: true`) and changes nothing; the same key with another body is 422.

**Concurrency.** GETs of instances and tasks return an `ETag` (the instance's version); send it back
as `If-Match` on writes to get 412 instead of overwriting a change you have not seen.

**Pages.** Lists return `items` and `next_cursor`; pass the cursor back as `?cursor=` for the next page.
"""

ERROR_TEXT = {
    400: "Invalid request: `details.fields` lists each field path and what is wrong.",
    401: "No token, or an unknown, revoked or expired one.",
    403: "The token's user may not do this (role, assignee, own request, grant).",
    404: "No such resource, or the caller may not see it.",
    409: "Conflict: someone else acted first, the task is already completed or claimed, the request "
    "is not running, or the message matches several waiting events.",
    412: "If-Match does not match the current ETag.",
    413: "The body or file is too large.",
    415: "Wrong Content-Type.",
    422: "Cannot be processed: a process script failed, or the Idempotency-Key was used for another request.",
    429: "Too many invalid tokens from this address: wait (see Retry-After).",
    503: "The database is unavailable or its schema is out of date.",
}


def _parameter(param: Any) -> dict[str, Any]:
    entry = {"name": param.name, "in": param.where, "required": param.required, "schema": param.schema}
    if param.description:
        entry["description"] = param.description
    return entry


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (text, schema) in op.responses.items():
        entry: dict[str, Any] = {"description": text}
        if schema is not None:
            entry["content"] = {media: {"schema": schema} for media in op.response_types}
        headers = {}
        if op.etag:
            headers["ETag"] = {"schema": {"type": "string"}, "description": "The instance's version."}
        if op.idempotent:
            headers["Idempotent-Replayed"] = {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "Present when this is the stored answer to an earlier request with the same key.",
            }
        if status == 201:
            headers["Location"] = {"schema": {"type": "string"}}
        if headers:
            entry["headers"] = headers
        responses[str(status)] = entry
    if op.etag and op.method == "GET":
        responses["304"] = {"description": "Not modified (If-None-Match names the current ETag)."}
    for status in op.error_statuses():
        responses[str(status)] = {"$ref": f"#/components/responses/{HTTP_CODES[status]}"}
    return responses


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "operationId": op.endpoint.split(".", 1)[1],
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [_parameter(p) for p in op.params],
            "responses": _responses(op),
        }
        if op.description:
            entry["description"] = op.description
        if not op.auth:
            entry["security"] = []
        if op.body is not None:
            entry["requestBody"] = {"required": op.body_required, "content": {op.media_type: {"schema": op.body}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    statuses = sorted({s for op in OPERATIONS for s in op.error_statuses()})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waypoint API", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "wpt_..."}},
            "responses": {
                HTTP_CODES[s]: {
                    "description": ERROR_TEXT.get(s, HTTP_CODES[s]),
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                for s in statuses
            },
        },
    }


@bp.app_template_filter("api_inline")
def api_inline(text: str | None) -> Markup:
    """The document's inline markdown (`code`, **strong**) as HTML, for the docs page."""
    html = str(escape(text or ""))
    return Markup(_STRONG.sub(r"<strong>\1</strong>", _CODE.sub(r"<code>\1</code>", html)))


@operation(
    bp,
    "GET",
    "/openapi.json",
    summary="This OpenAPI 3.1 document",
    tag="Meta",
    auth=False,
    responses={200: ("The document.", {"type": "object"})},
)
def openapi(args: dict, body: Any) -> Any:
    """The OpenAPI document."""
    return current_app.json.response(build_document())


@operation(
    bp,
    "GET",
    "/docs",
    summary="Readable documentation of this API (HTML)",
    tag="Meta",
    auth=False,
    response_types=("text/html",),
    responses={200: ("The page.", {"type": "string"})},
)
def docs(args: dict, body: Any) -> Any:
    """The API reference page, rendered from the OpenAPI document."""
    document = build_document()
    sections: dict[str, list[dict[str, Any]]] = {}
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            sections.setdefault(entry["tags"][0], []).append({"path": path, "method": method, "entry": entry})
    return render_template(
        "api/docs.html",
        doc=document,
        intro=[p.replace("\n", " ") for p in document["info"]["description"].split("\n\n")],
        sections=list(sections.items()),
        errors=document["components"]["responses"],
        components=document["components"]["schemas"],
    )


@operation(
    bp,
    "GET",
    "/me",
    summary="The token's user: roles and service-account grants",
    tag="Meta",
    responses={200: ("The caller.", ref("Me"))},
)
def me(args: dict, body: Any) -> Any:
    """Who the token acts as."""
    user = current_user()
    with db().reading() as s:
        grants = account_view(service_account(s, user))
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(user.roles),
        "service_account": grants,
    }


CATCH_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route(f"{PREFIX}/", defaults={"rest": ""}, methods=CATCH_ALL_METHODS)
@bp.route(f"{PREFIX}/<path:rest>", methods=CATCH_ALL_METHODS)
def unknown(rest: str) -> Response:
    """404 for paths the API does not have; 405 (with Allow) for a known path with another method."""
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in CATCH_ALL_METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)  # type: ignore[union-attr]
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        return error_response(
            405, "method_not_allowed", f"{request.method} is not allowed here", headers={"Allow": ", ".join(allowed)}
        )
    return error_response(404, "not_found", f"no API endpoint at {request.path}: see {PREFIX}/docs")
