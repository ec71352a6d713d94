"""Waypoint's engine: BPMN execution on SpiffWorkflow, persistence, and the action facade.

`web/`, the CLI and the scheduler use only what this package exports; none of them imports
SpiffWorkflow or writes SQL directly.
"""

from .clock import ManualClock, SystemClock
from .config import Settings
from .db import Database
from .errors import (
    AmbiguousMessage,
    ConcurrentUpdate,
    Conflict,
    DatabaseUnavailable,
    DefinitionError,
    InvalidState,
    NotFound,
    PermissionDenied,
    SchemaOutOfDate,
    ScriptError,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
    ValidationFailed,
    WaypointError,
)
from .runtime import Engine

__all__ = [
    "AmbiguousMessage",
    "ConcurrentUpdate",
    "Conflict",
    "Database",
    "DatabaseUnavailable",
    "DefinitionError",
    "Engine",
    "InvalidState",
    "ManualClock",
    "NotFound",
    "PermissionDenied",
    "SchemaOutOfDate",
    "ScriptError",
    "Settings",
    "SystemClock",
    "TaskAlreadyClaimed",
    "TaskAlreadyCompleted",
    "ValidationFailed",
    "WaypointError",
]
