"""Instances (requests): start, list with filters and cursors, read, cancel."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, current_app, g, url_for
from sqlalchemy.orm import Session

from engine import ValidationFailed
from engine.attachments import check_start_files, start_with_files
from engine.errors import FieldError
from engine.people.users import find_user
from engine.permissions import require_may_start_for_others
from engine.queries.api import InstanceFilters, list_instances
from engine.queries.inbox import visible_instance

from ..context import attachments, db, engine
from . import cursors
from .auth import current_user
from .blueprint import bp
from .present import instance_detail, instance_summary
from .schemas import CANCEL_BODY, START_BODY, page_of, ref
from .spec import CURSOR, INSTANCE_ID, LIMIT, Param, operation
from .writes import Result, check_if_match, etag, not_modified, perform


def _starter(session: Session, caller: Any, on_behalf_of: str | None) -> Any:
    if not on_behalf_of or on_behalf_of == caller.username:
        return caller
    require_may_start_for_others(session, caller)
    person = find_user(session, on_behalf_of)
    if person is None or not person.active:
        nobody = FieldError("on_behalf_of", "no_active_user", username=on_behalf_of)
        raise ValidationFailed("unknown_requester", [nobody])
    return person


@operation(
    bp,
    "POST",
    "/instances",
    summary="Start a request",
    description="Starts the latest version of `process` with `data` (its start form). The caller "
    "becomes the requester, or `on_behalf_of` does (service accounts with that grant); either must "
    "be allowed to start the process, as in the web catalogue.",
    tag="Instances",
    body=START_BODY,
    responses={201: ("Started; the body is the new instance.", ref("InstanceDetail"))},
    errors=(403, 404),
    idempotent=True,
    etag=True,
)
def start(args: dict, body: dict) -> Response:
    """Start an instance of a process."""
    caller = current_user()
    key = body["process"]

    def action(s: Session) -> Result:
        starter = _starter(s, caller, body.get("on_behalf_of"))
        refused = engine().may_start(s, starter, key)  # NotFound when not deployed at all
        if refused is not None:
            raise refused
        files = _decoded(body.get("attachments") or [])
        check_start_files(engine(), s, key, files)  # before field paths name the start data
        g.api_field_prefix = "data"
        on_behalf_of = starter.username if starter is not caller else None
        data = body.get("data") or {}
        instance = start_with_files(engine(), attachments(), s, key, data, caller, files, on_behalf_of=on_behalf_of)
        location = url_for("api.instance", instance_id=instance.id)
        return Result(201, instance_detail(s, instance.id), {"Location": location, "ETag": etag(instance.version)})

    return perform(action)


def _decoded(files: list[dict]) -> list[tuple[str, bytes]]:
    """The start body's attachments as (filename, bytes); a field error where one is not base64."""
    out = []
    for index, file in enumerate(files):
        try:
            out.append((file["filename"], base64.b64decode(file["content"], validate=True)))
        except (binascii.Error, ValueError):
            problem = FieldError(f"attachments.{index}.content", "not_base64")
            raise ValidationFailed("attachments_refused", [problem]) from None
    return out


STATUS = Param(
    "status", "query", {"type": "string", "enum": ["running", "completed", "cancelled"]}, "Only this status."
)
LIST_PARAMS = [
    Param("process", "query", {"type": "string", "maxLength": 100}, "Only this process key."),
    STATUS,
    Param("started_by", "query", {"type": "string", "maxLength": 64}, "Only requests this username started."),
    Param("updated_since", "query", {"type": "string", "format": "date-time"}, "Changed at or after (ISO 8601)."),
    Param("created_after", "query", {"type": "string", "format": "date-time"}, "Started at or after."),
    Param("created_before", "query", {"type": "string", "format": "date-time"}, "Started before."),
    Param("order", "query", {"type": "string", "enum": ["desc", "asc"], "default": "desc"}, "By id."),
    LIMIT,
    CURSOR,
]


@operation(
    bp,
    "GET",
    "/instances",
    summary="Requests the caller may see, newest first, with filters",
    tag="Instances",
    params=LIST_PARAMS,
    responses={200: ("A page of instances.", page_of("Instance"))},
)
def instances(args: dict, body: Any) -> Any:
    """A page of visible instances."""
    key = cursors.decode("instances", args["cursor"], (int,))
    after = key[0] if key else None
    filters = InstanceFilters(
        process=args["process"],
        status=args["status"],
        started_by=args["started_by"],
        updated_since=args["updated_since"],
        created_after=args["created_after"],
        created_before=args["created_before"],
        order=args["order"],
    )
    with db().reading() as s:
        rows, next_id = list_instances(
            s, current_user(), filters, after_id=after, limit=args["limit"], today=engine().today()
        )
        items = [instance_summary(i) for i in rows]
    return {"items": items, "next_cursor": cursors.encode("instances", [next_id]) if next_id else None}


@operation(
    bp,
    "GET",
    "/instances/{instance_id}",
    summary="A request: state, data, tasks and timeline",
    tag="Instances",
    params=[INSTANCE_ID],
    responses={200: ("The instance.", ref("InstanceDetail"))},
    etag=True,
)
def instance(args: dict, body: Any) -> Any:
    """One visible instance with its ETag."""
    with db().reading() as s:
        found = visible_instance(s, current_user(), args["instance_id"], engine().today())
        if not_modified(found.version):
            return Response(status=304, headers={"ETag": etag(found.version)})
        view = instance_detail(s, found.id)
    response = current_app.json.response(view)
    response.headers["ETag"] = etag(view["version"])
    return response


@operation(
    bp,
    "POST",
    "/instances/{instance_id}/cancel",
    summary="Cancel (withdraw) a running request",
    description="Its requester or an admin.",
    tag="Instances",
    params=[INSTANCE_ID],
    body=CANCEL_BODY,
    body_required=False,
    responses={200: ("Cancelled; the body is the instance.", ref("InstanceDetail"))},
    errors=(403,),
    idempotent=True,
    if_match=True,
    etag=True,
)
def cancel(args: dict, body: dict) -> Response:
    """Cancel an instance."""
    caller = current_user()
    instance_id = args["instance_id"]

    def action(s: Session) -> Result:
        found = visible_instance(s, caller, instance_id, engine().today())
        check_if_match(found.version)
        engine().cancel(s, instance_id, caller.username, (body or {}).get("reason", ""))
        return Result(200, instance_detail(s, instance_id), {"ETag": etag(found.version)})

    return perform(action)
