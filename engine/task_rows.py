"""The task-index rows a save compares with the workflow: the request's rows open before it.

A save writes the task index with Core statements (`engine.db.insert_objects` for the rows of the
tasks it offered, `engine.db.write_changes` for those that ended), not through the ORM's unit of
work. The rows open before a save come with the task the action read (`note_open_rows`), so the
task index's comparison with the workflow costs no statement of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from engine.models import ProcessInstance, TaskRecord

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
