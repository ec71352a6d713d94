"""Drafts: a person's unfinished form for an open task, kept encrypted until the task is done.

A draft is checked only for size and declared fields (it may be incomplete); its personal
fields are sealed like the workflow's. A save that closes a task (completed through any channel:
page, API, email link, reply, CLI; or cancelled with its request) deletes its drafts in its write
(engine/taskindex.py `write_sync`), so no personal data outlives the task in a draft.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied
from engine.forms import validate_submission
from engine.models import TaskDraft, TaskRecord, User
from engine.privacy.vault import Classification, Vault


def save(
    session: Session,
    row: TaskRecord,
    user: User,
    data: dict[str, Any],
    now: datetime,
    schema: dict | None,
    vault: Vault,
    personal: Classification,
) -> TaskDraft:
    """Keep `user`'s unfinished form data for the task (read it back with `vault.unseal`)."""
    if row.status != "ready":
        raise PermissionDenied("task_no_longer_open")
    declared = {k: v for k, v in data.items() if k in (schema or {}).get("properties", {})}
    validate_submission({"properties": dict.fromkeys(declared, {})}, declared)
    declared = vault.seal(declared, personal)
    draft = session.get(TaskDraft, (row.id, user.id))
    if draft is None:
        draft = TaskDraft(task_id=row.id, user_id=user.id, data=declared, saved_at=now)
        session.add(draft)
    else:
        draft.data, draft.saved_at = declared, now
    return draft


def get(session: Session, task_id: str, user: User) -> TaskDraft | None:
    """`user`'s draft for the task, if any."""
    return session.get(TaskDraft, (str(task_id), user.id))


#: on the table's column, so it runs as a Core statement (an ORM-enabled DELETE would look for
#: drafts in the session first, on every completion; an action holds none)
_CLEAR = delete(TaskDraft.table()).where(TaskDraft.table().c.task_id.in_(bindparam("task_ids", expanding=True)))


def clear(session: Session, task_ids: list[str]) -> None:
    """Delete everyone's drafts of these tasks (they closed)."""
    if task_ids:
        session.execute(_CLEAR, {"task_ids": task_ids})
