"""Operations of the API, declared once: each declaration registers the Flask route, validates the
request (path, query, headers, body) and becomes one entry of the OpenAPI 3.1 document.

Because routes, request validation and the document come from the same `Operation` objects, the
document cannot describe a route that does not exist or miss one that does (a test compares it
with the app's URL map), and the schemas it shows are the ones requests are checked against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, g, request
from jsonschema import Draft202012Validator, FormatChecker

from engine import NotFound, ValidationFailed
from engine.errors import FieldError, schema_field_error
from engine.idempotency import MAX_KEY_LENGTH

from .problems import ApiError

PREFIX = "/api/v1"
MAX_INT = 2**31 - 1
_FORMATS = FormatChecker()


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, with the JSON Schema its value must satisfy."""

    name: str
    where: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass
class Operation:
    """One method on one path: what it takes, what it answers, and how it fails."""

    method: str
    path: str
    endpoint: str
    summary: str
    tag: str
    description: str = ""
    params: list[Param] = field(default_factory=list)
    body: dict[str, Any] | None = None
    body_required: bool = True
    media_type: str = "application/json"
    responses: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    auth: bool = True
    idempotent: bool = False
    if_match: bool = False
    etag: bool = False
    response_types: tuple[str, ...] = ("application/json",)

    @property
    def rule(self) -> str:
        return PREFIX + re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors) | {503}
        if self.auth:
            statuses |= {401, 429}
        if any(p.where in ("query", "header") for p in self.params) or self.body is not None:
            statuses.add(400)
        if any(p.where == "path" for p in self.params):
            statuses.add(404)
        if self.body is not None:
            statuses |= {413, 415}
        if self.idempotent:
            statuses |= {409, 422}
        if self.if_match:
            statuses.add(412)
        return sorted(statuses)


OPERATIONS: list[Operation] = []


def operation(bp: Blueprint, method: str, path: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register `fn(args, body)` as `method path` and describe it in the OpenAPI document."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(method=method, path=path, endpoint=f"{bp.name}.{fn.__name__}", **options)
        if op.idempotent:
            op.params = [*op.params, IDEMPOTENCY_KEY]
        if op.if_match:
            op.params = [*op.params, IF_MATCH]

        @wraps(fn)
        def view(**path_values: str) -> Any:
            from .auth import authenticate

            g.api_operation = op
            if op.auth:
                authenticate()
            args = parse_params(op, path_values)
            body = parse_body(op) if op.body is not None else None
            return fn(args, body)

        bp.add_url_rule(op.rule, endpoint=fn.__name__, view_func=view, methods=[method])
        OPERATIONS.append(op)
        return view

    return decorate


# --- request parsing -------------------------------------------------------------------------
def _field_error(param: Param, error: FieldError) -> ValidationFailed:
    return ValidationFailed("invalid_parameter", [error], where=param.where, name=param.name)


def _coerce(param: Param, raw: str) -> Any:
    """The typed value of a raw parameter, checked against its schema."""
    if "\x00" in raw:
        raise _field_error(param, FieldError(param.name, "nul_character"))
    kind = param.schema.get("type")
    value: Any = raw
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d{1,12}", raw.strip()):
            raise _field_error(param, FieldError(param.name, "not_a_whole_number"))
        value = int(raw)
    elif kind == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise _field_error(param, FieldError(param.name, "not_a_boolean"))
        value = raw.lower() in ("true", "1")
    errors = list(Draft202012Validator(param.schema, format_checker=_FORMATS).iter_errors(value))
    if errors:
        raise _field_error(param, schema_field_error(errors[0], param.name))
    if param.schema.get("format") == "date-time":
        value = parse_datetime(param, raw)
    return value


def parse_datetime(param: Param, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise _field_error(param, FieldError(param.name, "invalid_date_time")) from exc
    if moment.tzinfo is None:
        raise _field_error(param, FieldError(param.name, "needs_utc_offset", example="2026-11-02T09:00:00Z"))
    return moment


def parse_params(op: Operation, path_values: dict[str, str]) -> dict[str, Any]:
    """Path, query and header values, typed and validated (a bad path value is a 404)."""
    args: dict[str, Any] = {}
    for param in op.params:
        if param.where == "path":
            try:
                args[param.name] = _coerce(param, path_values[param.name])
            except ValidationFailed as exc:
                raise NotFound("nothing_here", path=request.path) from exc
            continue
        source = request.args if param.where == "query" else request.headers
        raw = source.get(param.name)
        if raw is None or (raw == "" and param.where == "query"):
            if param.required:
                raise _field_error(param, FieldError(param.name, "required"))
            args[param.name] = param.schema.get("default")
            continue
        args[param.name] = _coerce(param, raw)
    return args


def _reject_nul(value: Any, path: list[str]) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValidationFailed("body_has_errors", [FieldError(".".join(path), "nul_character")])
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, path)
            _reject_nul(item, [*path, str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, [*path, str(index)])


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(op: Operation) -> Any:
    """The JSON body validated against the operation's schema (multipart bodies: the form)."""
    raw = request.get_data(cache=True)
    if op.media_type == "multipart/form-data":
        if request.mimetype != "multipart/form-data":
            raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data")
        return None
    if not raw:
        if op.body_required:
            raise ValidationFailed("json_body_needed", [FieldError("", "json_object_required")])
        return {}
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    _reject_nul(body, [])
    assert op.body is not None
    validator = Draft202012Validator(op.body, format_checker=_FORMATS)
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise ValidationFailed("body_has_errors", [schema_field_error(e) for e in errors[:20]])
    return body


# --- shared parameters -----------------------------------------------------------------------
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "pattern": f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"},
    "Any unique string (a UUID): a retry with the same key and body returns the first answer "
    "and makes no second change. Keys are kept 24 hours, per user.",
)
IF_MATCH = Param(
    "If-Match",
    "header",
    {"type": "string", "maxLength": 200},
    'The ETag from a GET of the instance or task (`"<version>"`): the write is refused with 412 '
    "when the instance changed since.",
)
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}, "Page size.")
CURSOR = Param(
    "cursor",
    "query",
    {"type": "string", "maxLength": 200},
    "`next_cursor` of the previous page; leave out for the first page.",
)
INSTANCE_ID = Param("instance_id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_INT}, required=True)
TASK_ID = Param("task_id", "path", {"type": "string", "pattern": "^[0-9a-f-]{36}$"}, required=True)
PROCESS_KEY = Param(
    "key", "path", {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"}, "Process key.", required=True
)
ATTACHMENT_ID = Param("attachment_id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_INT}, required=True)
