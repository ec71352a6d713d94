"""Read-side queries for the JSON API: instance and task lists with filters and keyset cursors.

Both lists read only indexed rows and apply the inbox's rules in SQL: an instance is listed
when `engine.queries.inbox.can_view` would show it (the same conditions, as one `WHERE` clause), a task
in the `actionable`/`mine`/`queue` scopes when the inbox would offer it. Pages are keyset
pages: the cursor is the sort key of the last row, so pages stay consistent while rows are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, literal_column, or_, select
from sqlalchemy.orm import Session, contains_eager, defer, joinedload

from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.people.delegation import holders_for
from engine.queries import literal_count
from engine.queries.inbox import actionable_conditions, visibility_condition

TASK_SCOPES = ("actionable", "mine", "queue", "visible")
#: Listings never carry an instance's sealed data through their sort (its workflow state is in a table of
#: its own): it loads only if a caller touches it.
_WITHOUT_DATA = (defer(ProcessInstance.data),)
#: A literal, not a bound value: SQLite then knows that `ix_tasks_open_created` holds only open tasks
#: and checks a page's conditions from the index alone, reading a task's row only when it matches.
_OPEN = TaskRecord.status == literal_column("'ready'")


def visible_condition(user: User, today: date) -> Any:
    """SQL for `engine.queries.inbox.can_view(user, instance, today)` over `ProcessInstance` rows."""
    return visibility_condition(user, ProcessInstance.id, ProcessInstance.started_by_id, today)


@dataclass
class InstanceFilters:
    """What a client may filter instances on."""

    process: str | None = None
    status: str | None = None
    started_by: str | None = None
    updated_since: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    order: str = "desc"


def list_instances(
    session: Session, user: User, filters: InstanceFilters, *, after_id: int | None, limit: int, today: date
) -> tuple[list[ProcessInstance], int | None]:
    """One page of the instances `user` may see, by id; and the id to continue after (None: last page)."""
    query = (
        select(ProcessInstance)
        .options(*_WITHOUT_DATA, joinedload(ProcessInstance.definition), joinedload(ProcessInstance.started_by))
        .where(visible_condition(user, today))
    )
    if filters.process:
        query = query.where(ProcessInstance.process_key == filters.process)
    if filters.status:
        query = query.where(ProcessInstance.status == filters.status)
    if filters.started_by:
        starter = select(User.id).where(User.username == filters.started_by).scalar_subquery()
        query = query.where(ProcessInstance.started_by_id == starter)
    if filters.updated_since:
        query = query.where(ProcessInstance.updated_at >= filters.updated_since)
    if filters.created_after:
        query = query.where(ProcessInstance.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(ProcessInstance.created_at < filters.created_before)
    descending = filters.order == "desc"
    if after_id is not None:
        query = query.where(ProcessInstance.id < after_id if descending else ProcessInstance.id > after_id)
    order = ProcessInstance.id.desc() if descending else ProcessInstance.id.asc()
    query = query.order_by(order).limit(literal_count(limit + 1))
    rows = list(session.scalars(query).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


@dataclass
class TaskFilters:
    """What a client may filter tasks on."""

    scope: str = "actionable"
    process: str | None = None
    instance_id: int | None = None
    element: str | None = None
    role: str | None = None
    status: str | None = None
    overdue: bool | None = None


def list_tasks_for(
    session: Session,
    user: User,
    filters: TaskFilters,
    now: datetime,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[TaskRecord], tuple[datetime, str] | None]:
    """One page of tasks by (created_at, id), and the key to continue after (None: last page).

    The page walks an index in that order (`ix_tasks_open_created` for the open scopes,
    `ix_tasks_created` for `visible`) and stops after its rows, whatever the size of the queue.

    Scopes: `actionable` (open tasks the user holds or may take from a queue, as the inbox
    offers them), `mine` (held), `queue` (takeable), `visible` (any status, on instances the
    user may see; for reports and history).
    """
    mine, queue = actionable_conditions(user, holders_for(session, user, now.date()))
    scope = {
        "actionable": and_(_OPEN, or_(mine, queue)),
        "mine": and_(_OPEN, mine),
        "queue": and_(_OPEN, queue),
        "visible": visible_condition(user, now.date()),
    }[filters.scope]
    query = (
        select(TaskRecord)
        .join(TaskRecord.instance)
        .options(  # the instance from the join the scope needs (one join, no second one to load it)
            contains_eager(TaskRecord.instance).options(*_WITHOUT_DATA, joinedload(ProcessInstance.started_by)),
            joinedload(TaskRecord.assignee),
            joinedload(TaskRecord.claimed_by),
            joinedload(TaskRecord.completed_by),
        )
        .where(scope)
    )
    for column, value in (
        (TaskRecord.process_key, filters.process),
        (TaskRecord.instance_id, filters.instance_id),
        (TaskRecord.element_id, filters.element),
        (TaskRecord.role, filters.role),
        (TaskRecord.status, filters.status),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.overdue is True:
        query = query.where(_OPEN, TaskRecord.due_at < now)
    elif filters.overdue is False:
        query = query.where(or_(TaskRecord.due_at.is_(None), TaskRecord.due_at >= now))
    if after is not None:
        created, task_id = after
        query = query.where(
            or_(TaskRecord.created_at > created, and_(TaskRecord.created_at == created, TaskRecord.id > task_id))
        )
    query = query.order_by(TaskRecord.created_at, TaskRecord.id).limit(literal_count(limit + 1))
    rows = list(session.scalars(query).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].created_at, rows[-1].id) if more and rows else None)


def process_versions(session: Session, key: str) -> list[ProcessDefinition]:
    """Every deployed version of `key`, newest first."""
    return list(
        session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
        )
    )
