"""How the API shows instances, tasks and attachments (plain data matching web/api/schemas.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.models import Attachment, ProcessInstance
from engine.queries.tasks import instance_view

from ..context import engine


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def instance_summary(instance: ProcessInstance) -> dict[str, Any]:
    """An instance without its data, tasks and timeline (lists, results)."""
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "process_version": instance.definition.version,
        "status": instance.status,
        "outcome": instance.outcome,
        "version": instance.version,
        "summary": instance.summary,
        "summary_fr": instance.summary_in("fr"),
        "started_by": instance.started_by.username if instance.started_by else None,
        "created_at": instance.created_at.isoformat(),
        "updated_at": instance.updated_at.isoformat(),
        "ended_at": _iso(instance.ended_at),
    }


def instance_detail(session: Session, instance_id: int) -> dict[str, Any]:
    """State, data, every task and the audit timeline (engine.queries.tasks.instance_view)."""
    view = instance_view(session, instance_id, engine())
    view["timeline"] = view.pop("audit")
    return view


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    """An attachment's metadata."""
    return {
        "id": attachment.id,
        "instance_id": attachment.instance_id,
        "task_id": attachment.task_id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_by": attachment.uploaded_by.username if attachment.uploaded_by else None,
        "uploaded_at": attachment.uploaded_at.isoformat(),
    }
