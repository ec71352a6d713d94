"""Tasks: the caller's list (with filters and cursors), one task with its form, claim, release, complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, g
from sqlalchemy.orm import Session

from engine import ValidationFailed
from engine.errors import FieldError
from engine.models import TaskRecord
from engine.privacy.vault import mask
from engine.queries.api import TASK_SCOPES, TaskFilters, list_tasks_for
from engine.queries.inbox import task_to_act_on, visible_task
from engine.queries.tasks import list_tasks, task_view

from ..context import db, engine
from . import cursors
from .auth import current_user
from .blueprint import bp
from .present import instance_summary
from .schemas import COMPLETE_BODY, page_of, ref
from .spec import CURSOR, LIMIT, TASK_ID, Param, operation
from .writes import Result, check_if_match, etag, not_modified, perform

LIST_PARAMS = [
    Param(
        "scope",
        "query",
        {"type": "string", "enum": list(TASK_SCOPES), "default": "actionable"},
        "`actionable`: open tasks you hold or may take (the inbox); `mine`: held by you; `queue`: "
        "open in your roles' queues; `visible`: any status, on requests you may see.",
    ),
    Param("process", "query", {"type": "string", "maxLength": 100}, "Only this process key."),
    Param("instance", "query", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "Only this request."),
    Param("element", "query", {"type": "string", "maxLength": 255}, "Only this BPMN element id."),
    Param("role", "query", {"type": "string", "maxLength": 40}, "Only this lane role."),
    Param(
        "status",
        "query",
        {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "Only this status (scope `visible`; the other scopes list open tasks).",
    ),
    Param("overdue", "query", {"type": "boolean"}, "Only overdue (true) or not overdue (false) tasks."),
    LIMIT,
    CURSOR,
]


@operation(
    bp,
    "GET",
    "/tasks",
    summary="Tasks for the caller, oldest first",
    tag="Tasks",
    params=LIST_PARAMS,
    responses={200: ("A page of tasks.", page_of("Task"))},
)
def tasks(args: dict, body: Any) -> Any:
    """A page of the caller's tasks."""
    key = cursors.decode("tasks", args["cursor"], (str, str))
    after = None
    if key is not None:
        try:
            after = (datetime.fromisoformat(key[0]), key[1])
        except ValueError as exc:
            raise ValidationFailed("invalid_cursor", [FieldError("cursor", "use_next_cursor")]) from exc
    filters = TaskFilters(
        scope=args["scope"],
        process=args["process"],
        instance_id=args["instance"],
        element=args["element"],
        role=args["role"],
        status=args["status"],
        overdue=args["overdue"],
    )
    with db().reading() as s:
        rows, last = list_tasks_for(s, current_user(), filters, engine().clock.now(), after=after, limit=args["limit"])
        items = [task_view(t) for t in rows]
    return {"items": items, "next_cursor": cursors.encode("tasks", [last[0].isoformat(), last[1]]) if last else None}


def task_detail(session: Session, row: TaskRecord) -> dict[str, Any]:
    """A task with its form schema, the data it sees, and whether the caller may work on it."""
    parsed = engine().definition_for(session, row.instance)
    refusal = engine().may_work(session, current_user(), row)
    return {
        **task_view(row),
        "version": row.instance.version,
        "schema": parsed.form(row.form),
        "data": mask(engine().task_data(session, row), parsed.personal),
        "may_work": refusal is None,
        "reason": str(refusal) if refusal is not None else None,
    }


@operation(
    bp,
    "GET",
    "/tasks/{task_id}",
    summary="A task with its form schema and data",
    tag="Tasks",
    params=[TASK_ID],
    responses={200: ("The task.", ref("TaskDetail"))},
    etag=True,
)
def task(args: dict, body: Any) -> Any:
    """One task on a request the caller may see."""
    with db().reading() as s:
        row = visible_task(s, current_user(), args["task_id"], engine().today())
        if not_modified(row.instance.version):
            return Response(status=304, headers={"ETag": etag(row.instance.version)})
        view = task_detail(s, row)
    response = current_app.json.response(view)
    response.headers["ETag"] = etag(view["version"])
    return response


def _task_action(task_id: str, act: Any) -> Response:
    caller = current_user()

    def action(s: Session) -> Result:
        row = task_to_act_on(s, caller, task_id, engine().today())
        check_if_match(row.instance.version)
        act(s, row)
        s.expire(row, ["claimed_by", "completed_by"])
        return Result(200, task_view(row), {"ETag": etag(row.instance.version)})

    return perform(action)


WRITE = dict(
    tag="Tasks",
    params=[TASK_ID],
    responses={200: ("The task.", ref("Task"))},
    errors=(403,),
    idempotent=True,
    if_match=True,
    etag=True,
)


@operation(bp, "POST", "/tasks/{task_id}/claim", summary="Take a queue task", **WRITE)
def claim(args: dict, body: Any) -> Response:
    """Claim a task (claiming one's own claim again is a no-op)."""
    return _task_action(args["task_id"], lambda s, row: engine().claim(s, row.id, current_user().username))


@operation(
    bp,
    "POST",
    "/tasks/{task_id}/release",
    summary="Give a claimed task back to its queue",
    **WRITE,
)
def release(args: dict, body: Any) -> Response:
    """Release a claimed task (its claimant or an admin)."""
    return _task_action(args["task_id"], lambda s, row: engine().release(s, row.id, current_user().username))


@operation(
    bp,
    "POST",
    "/tasks/{task_id}/complete",
    summary="Complete a task with its form data",
    description="`data` is checked against the task's form (`schema` of GET /tasks/{task_id}) and the "
    "process's cross-field rules; errors list `data.<field>` paths.",
    tag="Tasks",
    params=[TASK_ID],
    body=COMPLETE_BODY,
    responses={200: ("Completed; the request moved on.", ref("CompleteResult"))},
    errors=(403,),
    idempotent=True,
    if_match=True,
    etag=True,
)
def complete(args: dict, body: dict) -> Response:
    """Complete a task."""
    caller = current_user()

    def action(s: Session) -> Result:
        row = task_to_act_on(s, caller, args["task_id"], engine().today())
        check_if_match(row.instance.version)
        g.api_field_prefix = "data"
        done = engine().complete(s, row.id, caller.username, body.get("data") or {}, channel="api")
        g.api_field_prefix = None
        s.expire(done, ["completed_by", "claimed_by"])
        instance = done.instance
        result = {
            "task": task_view(done),
            "instance": instance_summary(instance),
            "next_tasks": [task_view(t) for t in list_tasks(s, instance_id=instance.id)],
        }
        return Result(200, result, {"ETag": etag(instance.version)})

    return perform(action)
