"""Waypoint's engine: BPMN execution on SpiffWorkflow, persistence, and the action facade.

The package exports the facade (`Engine`), its errors, settings, clock and database; `web/` and
`cli/` also import the engine's rooms (queries, mail, designer, people, privacy, worker), and none
of them imports SpiffWorkflow or builds SQL (tests/test_architecture.py). Map: docs/architecture.md.
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
