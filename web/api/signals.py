"""BPMN signals from outside: broadcast by name to every request waiting on one, and to signal start events."""

from __future__ import annotations

from flask import Response
from sqlalchemy.orm import Session

from engine.permissions import require_may_deliver

from ..context import engine
from .auth import current_user
from .blueprint import bp
from .present import instance_summary
from .schemas import ref
from .spec import operation
from .writes import Result, perform

SIGNAL_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "BPMN signal name."},
    },
}


@operation(
    bp,
    "POST",
    "/signals",
    summary="Broadcast a BPMN signal",
    description="Every waiting signal catch event with this name receives it (event-based gateways included), "
    "and every process whose start event catches it starts; a signal carries no data. A signal nobody "
    "waits for reaches nobody: "
    "200 with an empty list. Admins and service accounts granted the name (as for messages) may send it.",
    tag="Messages",
    body=SIGNAL_BODY,
    responses={200: ("Sent; the instances it reached.", ref("SignalResult"))},
    errors=(403,),
    idempotent=True,
)
def broadcast(args: dict, body: dict) -> Response:
    """Send a signal."""
    caller = current_user()
    name = body["name"]

    def action(s: Session) -> Result:
        require_may_deliver(s, caller, name)
        reached = engine().deliver_signal(s, name, actor=caller.username)
        return Result(200, {"signal": name, "delivered_to": [instance_summary(i) for i in reached]})

    return perform(action)
