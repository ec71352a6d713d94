"""Errors the engine raises: each maps to one clear message and one HTTP/CLI outcome.

Callers (web, API, CLI, scheduler) catch `WaypointError` and show `str(error)`; the
subclass says which outcome applies (`status` is the HTTP status code the API uses).
"""

from __future__ import annotations


class WaypointError(Exception):
    """Base class: an expected failure with a message fit for a person."""

    status = 400
    code = "error"


class NotFound(WaypointError):
    """An id (process, instance, task, user) that does not exist."""

    status = 404
    code = "not_found"


class PermissionDenied(WaypointError):
    """The user may not do this (wrong role, not the assignee, own request)."""

    status = 403
    code = "forbidden"


class Conflict(WaypointError):
    """The state moved under the caller: someone else acted first."""

    status = 409
    code = "conflict"


class TaskAlreadyCompleted(Conflict):
    """The task was completed (or cancelled) before this action."""

    code = "task_already_completed"


class TaskAlreadyClaimed(Conflict):
    """Another person holds the task."""

    code = "task_already_claimed"


class ConcurrentUpdate(Conflict):
    """Another transaction changed the instance between load and save."""

    code = "concurrent_update"


class AmbiguousMessage(Conflict):
    """A message matches more than one waiting instance or event."""

    code = "ambiguous_message"


class InvalidState(Conflict):
    """The instance is not in a state that allows this action (e.g. already ended)."""

    code = "invalid_state"


class ValidationFailed(WaypointError):
    """Submitted data does not satisfy the form; `errors` lists (field path, message)."""

    status = 400
    code = "validation_failed"

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []

    def __str__(self) -> str:
        if not self.errors:
            return super().__str__()
        details = "; ".join(f"{path or '(form)'}: {msg}" for path, msg in self.errors)
        return f"{super().__str__()}: {details}"


class DefinitionError(WaypointError):
    """A BPMN/DMN/form file was rejected; `findings` name file, line and element."""

    status = 422
    code = "invalid_definition"

    def __init__(self, message: str, findings: list[dict] | None = None):
        super().__init__(message)
        self.findings = findings or []

    def __str__(self) -> str:
        if not self.findings:
            return super().__str__()
        lines = [super().__str__()]
        for f in self.findings:
            where = ":".join(str(p) for p in (f.get("file"), f.get("line")) if p)
            element = f.get("element")
            lines.append(f"  {where}{' ' + element if element else ''}: {f.get('message')}")
        return "\n".join(lines)


class ScriptError(WaypointError):
    """A BPMN script, condition or DMN expression failed or was refused."""

    status = 422
    code = "script_error"


class SchemaOutOfDate(WaypointError):
    """The database schema is behind the code: run `waypoint db upgrade`."""

    status = 503
    code = "schema_out_of_date"


class DatabaseUnavailable(WaypointError):
    """The database cannot be reached."""

    status = 503
    code = "database_unavailable"
