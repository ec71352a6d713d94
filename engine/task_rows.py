"""Task-index rows written by a save with Core statements, not through the ORM's unit of work.

A save adds the rows of the tasks it offered (and closes the rows of the tasks that ended with
`engine.db.write_changes`). The ORM flush of those few objects cost more than everything else
written under the write lock (issue 21), so they go in as one `INSERT`, and the session's
objects are left as a flush would leave them: persistent, with nothing pending.

The rows open before a save come with the task the action read (`note_open_rows`), so the
task index's comparison with the workflow costs no statement of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached

from engine.models import ProcessInstance, TaskRecord

_TABLE = TaskRecord.table()


def insert_new(session: Session, rows: list[TaskRecord]) -> None:
    """Insert new (transient) task rows in one statement; they become persistent in `session`."""
    if not rows:
        return
    columns = inspect(TaskRecord).column_attrs
    for row in rows:
        for attr in columns:
            if attr.key not in row.__dict__:  # unset: the column's default, else NULL (never expired)
                default = attr.columns[0].default
                if default is not None and not default.is_scalar:
                    raise TypeError(f"tasks.{attr.key}: only a constant default can be written here")
                setattr(row, attr.key, default.arg if default is not None else None)
    with session.no_autoflush:  # the statement is the write; a flush first would write nothing more
        session.execute(insert(_TABLE), [{attr.key: getattr(row, attr.key) for attr in columns} for row in rows])
    for row in rows:
        make_transient_to_detached(row)
        session.add(row)


_OPEN_ROWS = "waypoint_open_task_rows"
OpenRows = dict[str, tuple[int | None, datetime | None]]


def note_open_rows(session: Session, instance: ProcessInstance) -> None:
    """Keep the request's open task rows, loaded with the task an action works on (engine/core.py)
    or the timer it fires (engine/timer_actions.py), for its save (`open_before_save`): by the
    version they were read at, since every change to a request's tasks moves its version (a row
    read at another version is never used)."""
    rows = {row.id: (row.completed_by_id, row.completed_at) for row in instance.open_tasks}
    session.info.setdefault(_OPEN_ROWS, {})[instance.id] = (instance.version, rows)
    session.expire(instance, ["open_tasks"])  # loaded again, fresh, by the next action's read


_OPEN_ROWS_OF = select(TaskRecord.id, TaskRecord.completed_by_id, TaskRecord.completed_at).where(
    TaskRecord.instance_id == bindparam("instance_id"), TaskRecord.status == "ready"
)


def open_before_save(session: Session, instance: ProcessInstance) -> OpenRows:
    """The request's task rows open before this save, with who completed them and when: none for
    a request not stored yet (a start); as the action read them with its task, if at this version;
    else read here."""
    if not inspect(instance).persistent:
        return {}
    version, rows = session.info.get(_OPEN_ROWS, {}).pop(instance.id, (None, {}))
    if version == instance.version:  # never None: a stored instance always has a version
        return rows
    return {task_id: (by, at) for task_id, by, at in session.execute(_OPEN_ROWS_OF, {"instance_id": instance.id})}
