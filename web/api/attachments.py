"""Files attached to requests: list, upload (multipart), metadata, download."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, request, send_file, url_for
from sqlalchemy.orm import Session

from engine import NotFound, ValidationFailed
from engine.attachments import MAX_ATTACHMENT_BYTES, list_for
from engine.errors import FieldError
from engine.models import Attachment, TaskRecord
from engine.queries.inbox import visible_instance

from ..context import attachments as store
from ..context import db, engine
from .auth import current_user
from .blueprint import bp
from .present import attachment_view
from .problems import ApiError
from .schemas import UPLOAD_BODY, ref
from .spec import ATTACHMENT_ID, INSTANCE_ID, operation
from .writes import Result, perform


@operation(
    bp,
    "GET",
    "/instances/{instance_id}/attachments",
    summary="Files attached to a request",
    tag="Attachments",
    params=[INSTANCE_ID],
    responses={200: ("The files.", {"type": "array", "items": ref("Attachment")})},
)
def attachment_list(args: dict, body: Any) -> Any:
    """Attachments of a visible instance."""
    with db().reading() as s:
        instance = visible_instance(s, current_user(), args["instance_id"], engine().today())
        return [attachment_view(a) for a in list_for(s, instance.id)]


def _task_id(session: Session, instance_id: int) -> str | None:
    task_id = request.form.get("task_id") or None
    if task_id is not None:
        row = session.get(TaskRecord, task_id[:36])
        if row is None or row.id != task_id or row.instance_id != instance_id:
            raise ValidationFailed("unknown_task", [FieldError("task_id", "not_a_task_of_request")])
    return task_id


@operation(
    bp,
    "POST",
    "/instances/{instance_id}/attachments",
    summary="Attach a PDF, PNG or JPEG file (at most 10 MB) to a request",
    tag="Attachments",
    params=[INSTANCE_ID],
    body=UPLOAD_BODY,
    media_type="multipart/form-data",
    responses={201: ("Stored.", ref("Attachment"))},
    idempotent=True,
)
def upload(args: dict, body: Any) -> Response:
    """Store a file for a visible instance."""
    caller = current_user()
    file = request.files.get("file")
    if file is None:
        raise ValidationFailed("no_file_sent", [FieldError("file", "send_the_file")])
    content = file.read(MAX_ATTACHMENT_BYTES + 1)
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ApiError(413, "payload_too_large", f"files may be at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
    file.stream.seek(0)

    def action(s: Session) -> Result:
        instance = visible_instance(s, caller, args["instance_id"], engine().today())
        task_id = _task_id(s, instance.id)
        name = file.filename or "attachment"
        stored = store().add(s, instance, caller, name, content, engine().clock.now(), task_id)
        s.refresh(stored, ["uploaded_by"])
        location = url_for("api.attachment", attachment_id=stored.id)
        return Result(201, attachment_view(stored), {"Location": location})

    return perform(action)


def _visible_attachment(session: Session, attachment_id: int) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("no_such_attachment", id=attachment_id)
    visible_instance(session, current_user(), attachment.instance_id, engine().today())
    return attachment


@operation(
    bp,
    "GET",
    "/attachments/{attachment_id}",
    summary="An attachment's metadata",
    tag="Attachments",
    params=[ATTACHMENT_ID],
    responses={200: ("The file's metadata.", ref("Attachment"))},
)
def attachment(args: dict, body: Any) -> Any:
    """Metadata of an attachment on a visible instance."""
    with db().reading() as s:
        return attachment_view(_visible_attachment(s, args["attachment_id"]))


@operation(
    bp,
    "GET",
    "/attachments/{attachment_id}/content",
    summary="Download an attachment",
    tag="Attachments",
    params=[ATTACHMENT_ID],
    response_types=("application/pdf", "image/png", "image/jpeg"),
    responses={200: ("The file.", {"type": "string"})},
)
def attachment_content(args: dict, body: Any) -> Response:
    """The file's bytes."""
    with db().reading() as s:
        found = _visible_attachment(s, args["attachment_id"])
        name, content_type = found.filename, found.content_type
        content = store().read(found)  # decrypted here, never written out in clear
    return send_file(io.BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name)
