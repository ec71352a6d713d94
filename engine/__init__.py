"""Waypoint's engine: BPMN execution on SpiffWorkflow, persistence, and the action facade.

`web/`, the CLI and the scheduler use only what this package exports; none of them imports
SpiffWorkflow or writes SQL directly.
"""

from engine.clock import ManualClock, SystemClock
from engine.config import Settings
from engine.db import Database
from engine.errors import (
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
from engine.runtime import Engine

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
