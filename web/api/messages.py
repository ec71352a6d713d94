"""BPMN messages from outside systems (passport office, embassy links): deliver by name and correlation."""

from __future__ import annotations

from flask import Response, g
from sqlalchemy.orm import Session

from engine.permissions import require_may_deliver

from ..context import engine
from .auth import current_user
from .blueprint import bp
from .present import instance_summary
from .schemas import MESSAGE_BODY, ref
from .spec import operation
from .writes import Result, perform


@operation(
    bp,
    "POST",
    "/messages",
    summary="Deliver a BPMN message to the request waiting for it",
    description="The message reaches the one waiting catch event whose correlation matches: `correlation` "
    "as given, or computed from `payload` by the process's correlation expressions when left out. "
    "404 when nothing waits for it, 409 when several events match. Admins and service accounts "
    "granted the message name may deliver it.",
    tag="Messages",
    body=MESSAGE_BODY,
    responses={200: ("Delivered; the instances that received it.", ref("MessageResult"))},
    errors=(403, 404),
    idempotent=True,
)
def deliver(args: dict, body: dict) -> Response:
    """Deliver a message."""
    caller = current_user()
    name = body["name"]

    def action(s: Session) -> Result:
        require_may_deliver(s, caller, name)
        g.api_field_prefix = "payload"
        instance = engine().deliver_message(
            s, name, body.get("payload") or {}, body.get("correlation"), actor=caller.username
        )
        g.api_field_prefix = None
        return Result(200, {"message": name, "delivered_to": [instance_summary(instance)]})

    return perform(action)
