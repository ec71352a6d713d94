"""Errors the engine raises: each carries a stable `code`, its `params` and one HTTP/CLI outcome.

An error is raised with a code of `engine.error_catalogue.MESSAGES` and the values its wording
needs (`raise PermissionDenied("task_needs_role", task=row.name, role=row.role)`); `str(error)`
is the English sentence (CLI, logs, the API's `message`), and the web translates the code with
the same parameters. The class says which outcome applies: `status` is the HTTP status code and
`kind` the API's coarse error code (`forbidden`, `conflict`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.error_catalogue import MESSAGES


def english(code: str, params: dict[str, Any]) -> str:
    """The English sentence for `code` with its parameters (a KeyError for an unknown code)."""
    return MESSAGES[code] % params


class FieldError(tuple[str, str]):
    """One field's problem: unpacks as `(path, English message)` and carries `code` and `params`."""

    code: str
    params: dict[str, Any]

    def __new__(cls, path: str, code: str, **params: Any) -> FieldError:
        error = super().__new__(cls, (path, english(code, params)))
        error.code, error.params = code, params
        return error

    @property
    def path(self) -> str:
        return self[0]

    @property
    def message(self) -> str:
        return self[1]


#: jsonschema keywords that set a limit, and the field error code for a value beyond it
_LIMITS = {
    "minLength": "too_short",
    "maxLength": "too_long",
    "minItems": "too_few_items",
    "maxItems": "too_many_items",
    "minimum": "below_minimum",
    "maximum": "above_maximum",
    "exclusiveMinimum": "not_above",
    "exclusiveMaximum": "not_below",
}


#: Character classes of the usual `^[...]{m,n}$` patterns, and the code that says them in words.
_PATTERN_CLASSES = {"A-Z0-9": "pattern_capitals_digits", "A-Z0-9-": "pattern_capitals_digits_hyphens"}
_BOUNDED_CLASS = re.compile(r"\^\[([^\]]+)\]\{(\d+),(\d+)\}\$")


def _pattern_error(where: str, pattern: str) -> FieldError:
    """Say what to enter for the patterns forms use ("6 to 20 capital letters and digits"); a
    pattern of "some non-space character" is a required field; others get the general sentence."""
    if pattern in ("\\S", "\\S+", "^\\s*\\S"):
        return FieldError(where, "required")
    bounded = _BOUNDED_CLASS.fullmatch(pattern)
    if bounded and bounded.group(1) in _PATTERN_CLASSES:
        low, high = int(bounded.group(2)), int(bounded.group(3))
        return FieldError(where, _PATTERN_CLASSES[bounded.group(1)], min=low, max=high)
    return FieldError(where, "pattern_mismatch")


def _choices(options: Any) -> bool:
    """Is a `oneOf`/`anyOf` a list of choices (each a `const`), as radio buttons and selects are?"""
    return isinstance(options, list) and all(isinstance(o, dict) and "const" in o for o in options)


def schema_field_error(error: Any, path: str | None = None) -> FieldError:
    """The FieldError for one jsonschema `ValidationError`: its keyword decides the code."""
    where = ".".join(str(p) for p in error.absolute_path) if path is None else path
    keyword, value = error.validator, error.validator_value
    if keyword == "required":  # one error per missing property, named only in the message
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return FieldError(".".join(p for p in (where, missing) if p), "required")
    if keyword in ("minLength", "minItems") and value == 1:
        return FieldError(where, "required")
    if keyword in _LIMITS:
        return FieldError(where, _LIMITS[keyword], limit=value)
    if keyword == "const" and value is True:  # a checkbox that must be ticked
        return FieldError(where, "must_be_ticked")
    if keyword in ("enum", "const") or (keyword in ("oneOf", "anyOf") and _choices(value)):
        return FieldError(where, "not_an_option")
    if keyword == "format":
        return (
            FieldError(where, "invalid_date")
            if value in ("date", "date-time")
            else FieldError(where, "invalid_format", format=value)
        )
    if keyword == "type":
        kinds = value if isinstance(value, list) else [value]
        if set(kinds) <= {"number", "integer"}:
            return FieldError(where, "not_a_whole_number" if kinds == ["integer"] else "not_a_number")
        return FieldError(where, "wrong_type", type=", ".join(kinds))
    if keyword == "pattern":
        return _pattern_error(where, str(value))
    if keyword == "uniqueItems":
        return FieldError(where, "duplicate_items")
    return FieldError(where, "invalid_value", detail=error.message)


class WaypointError(Exception):
    """Base class: an expected failure with a message fit for a person."""

    status = 400
    kind = "error"

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(english(code, params))
        self.code, self.params = code, params


class NotFound(WaypointError):
    """An id (process, instance, task, user) that does not exist."""

    status = 404
    kind = "not_found"


class PermissionDenied(WaypointError):
    """The user may not do this (wrong role, not the assignee, own request)."""

    status = 403
    kind = "forbidden"


class Conflict(WaypointError):
    """The state moved under the caller: someone else acted first."""

    status = 409
    kind = "conflict"


class TaskAlreadyCompleted(Conflict):
    """The task was completed (or cancelled) before this action."""

    kind = "task_already_completed"

    @classmethod
    def closed(cls, task: str, status: str, by: str | None = None) -> TaskAlreadyCompleted:
        """The error for task `task` found `status` (`completed` by `by`, `cancelled`, ...)."""
        if status == "completed":
            if by:
                return cls("task_already_completed_by", task=task, who=by)
            return cls("task_already_completed", task=task)
        if status == "cancelled":
            return cls("task_already_cancelled", task=task)
        return cls("task_already_closed", task=task, status=status)


class TaskAlreadyClaimed(Conflict):
    """Another person holds the task."""

    kind = "task_already_claimed"


class ConcurrentUpdate(Conflict):
    """Another transaction changed the instance between load and save."""

    kind = "concurrent_update"


class AmbiguousMessage(Conflict):
    """A message matches more than one waiting instance or event."""

    kind = "ambiguous_message"


class InvalidState(Conflict):
    """The instance is not in a state that allows this action (e.g. already ended)."""

    kind = "invalid_state"


class ValidationFailed(WaypointError):
    """Submitted data does not satisfy the form; `errors` lists a `FieldError` per field."""

    status = 400
    kind = "validation_failed"

    def __init__(self, code: str, errors: Iterable[FieldError] = (), **params: Any) -> None:
        super().__init__(code, **params)
        self.errors = list(errors)

    def __str__(self) -> str:
        if not self.errors:
            return super().__str__()
        details = "; ".join(f"{error.path or '(form)'}: {error.message}" for error in self.errors)
        return f"{super().__str__()}: {details}"


class DefinitionError(WaypointError):
    """A BPMN/DMN/form file was rejected; `findings` name file, line and element."""

    status = 422
    kind = "invalid_definition"

    def __init__(self, code: str, findings: list[dict] | None = None, **params: Any) -> None:
        super().__init__(code, **params)
        self.findings = findings or []

    def __str__(self) -> str:
        if not self.findings:
            return super().__str__()
        return "\n".join([super().__str__(), *("  " + finding_line(f) for f in self.findings)])


def finding_line(finding: dict) -> str:
    """One line naming a finding's file:line, element id and name, and message (line breaks in names collapsed)."""

    def one_line(value: Any) -> str:
        return " ".join(str(value or "").split())

    where = ":".join(str(p) for p in (finding.get("file"), finding.get("line")) if p)
    element, name = one_line(finding.get("element")), one_line(finding.get("name"))
    label = f'{element} "{name}"' if element and name else element or (f'"{name}"' if name else "")
    warning = "warning: " if finding.get("severity") == "warning" else ""
    parts = [f"{part}:" for part in (where, label) if part]
    return " ".join([*parts, warning + one_line(finding.get("message"))])


class ScriptError(WaypointError):
    """A BPMN script, condition or DMN expression failed or was refused."""

    status = 422
    kind = "script_error"


class SchemaOutOfDate(WaypointError):
    """The database schema is behind the code: run `waypoint db upgrade`."""

    status = 503
    kind = "schema_out_of_date"


class DatabaseUnavailable(WaypointError):
    """The database cannot be reached."""

    status = 503
    kind = "database_unavailable"
