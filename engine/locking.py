"""The instance version lock, and the changes recorded under it without touching the workflow.

`lock_instance` is the first write of every change to a process instance. `record_change`
records a change that leaves the workflow state alone (claim, release, reassignment, escalation,
incident, retention purge, key rotation): the lock, `updated_at` and one audit event. Saving a
workflow that moved is engine/persist.py, which takes the same lock; the two are the only
writers of the audit trail.

A writer that must lock the instance before touching other rows (an escalation, before the worker
re-takes the timer's lease) calls `record_change` first: instance first, always.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit
from engine.errors import ConcurrentUpdate
from engine.models import AuditEvent, ProcessInstance, TaskRecord


def lock_instance(session: Session, instance: ProcessInstance) -> None:
    """Bump the instance's version if it is still the one we loaded, else ConcurrentUpdate.

    `UPDATE ... SET version = version + 1 WHERE id = :id AND version = :v` is the first write
    of every action (autoflush held back), so a loser fails here before writing anything
    else, and row locks are always taken in the same order (instance first): no deadlocks.
    """
    table = cast(Table, ProcessInstance.__table__)  # typed as any FromClause
    with session.no_autoflush:
        result = session.execute(
            update(table)
            .where(table.c.id == instance.id, table.c.version == instance.version)
            .values(version=table.c.version + 1)
        )
    if cast(CursorResult[Any], result).rowcount != 1:  # an UPDATE's result is a cursor result
        raise ConcurrentUpdate("concurrent_save")
    set_committed_value(instance, "version", instance.version + 1)


def record_change(
    session: Session,
    instance: ProcessInstance,
    *,
    at: datetime,
    actor: str,
    action: str,
    task: TaskRecord | None = None,
    task_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record a change that leaves the workflow state alone, under the instance's version lock."""
    lock_instance(session, instance)
    instance.updated_at = at
    event = append_event(session, instance, at, actor, dict(action=action, task=task, task_id=task_id, details=details))
    session.flush()
    return event


def append_event(session: Session, instance: ProcessInstance, at: datetime, actor: str, event: dict) -> AuditEvent:
    """One audit event of a locked change: `action`, optional `task` (a TaskRecord), `task_id`,
    `element` ((id, name); default: the task's) and `details`."""
    task = event.get("task")
    element_id, element_name = event.get("element") or (
        (task.element_id, task.name) if task is not None else (None, None)
    )
    return audit.append(
        session,
        instance,
        at=at,
        actor=actor,
        action=event["action"],
        task_id=task.id if task is not None else event.get("task_id"),
        element_id=element_id,
        element_name=element_name,
        details=event.get("details"),
    )
