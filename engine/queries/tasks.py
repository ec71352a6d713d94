"""Read-side queries: processes, task queues and instance details, from indexed tables only.

Nothing here deserializes a workflow: queues read the task index, details read the
instance row's data snapshot and the audit trail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.errors import NotFound
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, Timer, User
from engine.people.users import get_user
from engine.task_owners import candidate_task_ids


def list_processes(session: Session) -> list[dict[str, Any]]:
    """Every process key: latest version, version count, running instances."""
    latest = (
        select(
            ProcessDefinition.key,
            func.max(ProcessDefinition.version).label("version"),
            func.count(ProcessDefinition.id).label("versions"),
        )
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    running = dict(
        session.execute(
            select(ProcessInstance.process_key, func.count(ProcessInstance.id))
            .where(ProcessInstance.status == "running")
            .group_by(ProcessInstance.process_key)
        ).all()
    )
    rows = session.execute(
        select(ProcessDefinition, latest.c.versions)
        .join(latest, and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.version))
        .order_by(ProcessDefinition.key)
    ).all()
    return [
        {
            "key": d.key,
            "name": d.name,
            "version": d.version,
            "versions": versions,
            "content_hash": d.content_hash,
            "deployed_by": d.deployed_by,
            "deployed_at": d.deployed_at.isoformat(),
            "running": running.get(d.key, 0),
        }
        for d, versions in rows
    ]


def list_tasks(
    session: Session,
    *,
    user: str | None = None,
    role: str | None = None,
    instance_id: int | None = None,
    status: str | None = "ready",
    limit: int = 200,
) -> list[TaskRecord]:
    """Tasks a user may work on (assigned, claimed, or in their roles' queues), or by role/instance."""
    query = select(TaskRecord).options(
        joinedload(TaskRecord.instance).joinedload(ProcessInstance.started_by),
        joinedload(TaskRecord.assignee),
        joinedload(TaskRecord.claimed_by),
    )
    if status:
        query = query.where(TaskRecord.status == status)
    if instance_id is not None:
        query = query.where(TaskRecord.instance_id == instance_id)
    if role is not None:
        query = query.where(TaskRecord.role == role)
    if user is not None:
        person = get_user(session, user)
        query = query.where(
            or_(
                TaskRecord.assignee_id == person.id,
                TaskRecord.claimed_by_id == person.id,
                and_(
                    TaskRecord.assignee_id.is_(None),
                    TaskRecord.claimed_by_id.is_(None),
                    or_(TaskRecord.role.in_(sorted(person.roles)), TaskRecord.id.in_(candidate_task_ids(person.id))),
                ),
            )
        )
    query = query.order_by(TaskRecord.due_at, TaskRecord.created_at).limit(limit)
    return list(session.scalars(query).unique())


def open_task_rows(session: Session, instance_id: int) -> list[TaskRecord]:
    """The instance's open task-index rows, oldest first."""
    return list(
        session.scalars(
            select(TaskRecord)
            .where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready")
            .order_by(TaskRecord.created_at, TaskRecord.id)
        )
    )


def all_instances(session: Session) -> list[ProcessInstance]:
    """Every instance, in the order they were started."""
    return list(session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)))


def waiting_timers(session: Session, limit: int = 50) -> list[Timer]:
    """Timers not yet fired (BPMN timers, reminders, escalations), soonest first."""
    return list(session.scalars(select(Timer).order_by(Timer.due_at, Timer.id).limit(limit)))


def resolve_task_id(session: Session, task_id: str) -> str:
    """A full task id from a unique prefix (at least 6 characters), for people typing ids."""
    if len(task_id) >= 36:
        return task_id
    if len(task_id) < 6:
        raise NotFound("task_id_too_short", id=task_id)
    ids = list(session.scalars(select(TaskRecord.id).where(TaskRecord.id.like(f"{task_id}%")).limit(2)))
    if len(ids) != 1:
        raise NotFound("task_id_ambiguous" if ids else "no_task_id_prefix", id=task_id)
    return ids[0]


def _person(user: User | None) -> str | None:
    return user.username if user is not None else None


def task_view(row: TaskRecord) -> dict[str, Any]:
    """A task as plain data (CLI --json, API)."""
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "process_key": row.process_key,
        "element_id": row.element_id,
        "name": row.name,
        "role": row.role,
        "form": row.form,
        "status": row.status,
        "assignee": _person(row.assignee),
        "claimed_by": _person(row.claimed_by),
        "requester": _person(row.instance.started_by),
        "summary": row.instance.summary,
        "summary_fr": row.instance.summary_in("fr"),
        "created_at": row.created_at.isoformat(),
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
        "completed_by": _person(row.completed_by),
    }


def instance_view(session: Session, instance_id: int, engine: Any = None) -> dict[str, Any]:
    """An instance's state, data, open tasks and audit trail as plain data; with `engine`, the
    data has personal fields masked (`•••• 4821`) instead of encrypted."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("no_such_request", id=instance_id)
    tasks = list_tasks(session, instance_id=instance.id, status=None, limit=1000)
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "process_version": instance.definition.version,
        "status": instance.status,
        "outcome": instance.outcome,
        "version": instance.version,
        "summary": instance.summary,
        "summary_fr": instance.summary_in("fr"),
        "started_by": _person(instance.started_by),
        "created_at": instance.created_at.isoformat(),
        "updated_at": instance.updated_at.isoformat(),
        "ended_at": instance.ended_at.isoformat() if instance.ended_at else None,
        "data": engine.display_data(session, instance) if engine is not None else instance.data,
        "tasks": [task_view(t) for t in tasks],
        "audit": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "task_id": e.task_id,
                "element_id": e.element_id,
                "element_name": e.element_name,
                "details": e.details,
            }
            for e in audit.events(session, instance.id)
        ],
    }
