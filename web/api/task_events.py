"""BPMN errors and escalations raised from a user task: what the task offers, and raising one."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from engine.queries.inbox import task_to_act_on
from engine.queries.tasks import list_tasks, task_view

from ..context import db, engine
from .auth import current_user
from .blueprint import bp
from .present import instance_summary
from .spec import TASK_ID, operation
from .writes import Result, perform

RAISE_BODY = {
    "type": "object",
    "required": ["kind", "code"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": ["error", "escalation"]},
        "code": {"type": "string", "minLength": 1, "maxLength": 255, "description": "errorCode or escalationCode."},
        "data": {"type": "object", "description": "Form data kept on the task before the event is raised."},
    },
}
ACTION = {
    "type": "object",
    "required": ["kind", "code", "element_id", "name"],
    "properties": {
        "kind": {"type": "string", "enum": ["error", "escalation"]},
        "code": {"type": "string"},
        "element_id": {"type": "string", "description": "The boundary event that catches it."},
        "name": {"type": "string"},
    },
}


@operation(
    bp,
    "GET",
    "/tasks/{task_id}/events",
    summary="Errors and escalations this task may raise",
    description="One per error or escalation boundary event attached to the task (its action buttons).",
    tag="Tasks",
    params=[TASK_ID],
    responses={200: ("The task's boundary actions.", {"type": "array", "items": ACTION})},
    errors=(403,),
)
def boundary_events(args: dict, body: Any) -> Any:
    """A task's boundary actions."""
    caller = current_user()
    with db().reading() as s:
        row = task_to_act_on(s, caller, args["task_id"], engine().today())
        return [a.__dict__ for a in engine().task_boundary_actions(s, row)]


@operation(
    bp,
    "POST",
    "/tasks/{task_id}/raise",
    summary="Raise a BPMN error or escalation from a task",
    description="The boundary event of the task that catches `kind` with `code` takes over: an interrupting "
    "one ends the task, a non-interrupting one leaves it open. 409 when the task has no such boundary event.",
    tag="Tasks",
    params=[TASK_ID],
    body=RAISE_BODY,
    responses={200: ("Raised; the request moved on.", {"type": "object"})},
    errors=(403,),
    idempotent=True,
)
def raise_event(args: dict, body: dict) -> Response:
    """Raise an error or escalation."""
    caller = current_user()

    def action(s: Session) -> Result:
        row = task_to_act_on(s, caller, args["task_id"], engine().today())
        done = engine().raise_boundary_event(s, row.id, caller.username, body["kind"], body["code"], body.get("data"))
        instance = done.instance
        result = {
            "task": task_view(done),
            "instance": instance_summary(instance),
            "next_tasks": [task_view(t) for t in list_tasks(s, instance_id=instance.id)],
        }
        return Result(200, result)

    return perform(action)
