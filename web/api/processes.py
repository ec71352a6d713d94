"""Deployed processes: the list, one process, its versions, its start form."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.queries.api import process_versions
from engine.queries.tasks import list_processes
from engine.versions import latest_definition

from ..context import db, engine
from .auth import current_user
from .blueprint import bp
from .schemas import ref
from .spec import PROCESS_KEY, operation


def _process(session: Session, key: str, user: Any) -> dict[str, Any]:
    latest_definition(session, key)  # NotFound when never deployed
    entry = next(p for p in list_processes(session) if p["key"] == key)
    return {**entry, "can_start": engine().may_start(session, user, key) is None}


@operation(
    bp,
    "GET",
    "/processes",
    summary="Deployed processes (latest version of each)",
    tag="Processes",
    responses={200: ("The processes.", {"type": "array", "items": ref("Process")})},
)
def processes(args: dict, body: Any) -> Any:
    """Every deployed process, with whether the caller may start it."""
    with db().reading() as s:
        user = current_user()
        return [{**p, "can_start": engine().may_start(s, user, p["key"]) is None} for p in list_processes(s)]


@operation(
    bp,
    "GET",
    "/processes/{key}",
    summary="One process (its latest version)",
    tag="Processes",
    params=[PROCESS_KEY],
    responses={200: ("The process.", ref("Process"))},
)
def process(args: dict, body: Any) -> Any:
    """The latest version of a process."""
    with db().reading() as s:
        return _process(s, args["key"], current_user())


@operation(
    bp,
    "GET",
    "/processes/{key}/versions",
    summary="Every deployed version of a process, newest first",
    tag="Processes",
    params=[PROCESS_KEY],
    responses={200: ("The versions.", {"type": "array", "items": ref("ProcessVersion")})},
)
def versions(args: dict, body: Any) -> Any:
    """Deployed versions of a process."""
    with db().reading() as s:
        latest_definition(s, args["key"])
        return [
            {
                "key": d.key,
                "version": d.version,
                "name": d.name,
                "content_hash": d.content_hash,
                "deployed_by": d.deployed_by,
                "deployed_at": d.deployed_at.isoformat(),
            }
            for d in process_versions(s, args["key"])
        ]


@operation(
    bp,
    "GET",
    "/processes/{key}/start-form",
    summary="The JSON Schema of the data that starts a process",
    tag="Processes",
    params=[PROCESS_KEY],
    responses={200: ("The start form.", ref("StartForm"))},
)
def start_form(args: dict, body: Any) -> Any:
    """The start form of the latest version."""
    with db().reading() as s:
        definition = latest_definition(s, args["key"])
        parsed = engine().specs.get(s, definition)
        return {
            "key": definition.key,
            "version": definition.version,
            "form": parsed.start_form,
            "schema": parsed.form(parsed.start_form),
            "can_start": engine().may_start(s, current_user(), definition.key) is None,
        }
