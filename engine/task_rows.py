"""Task-index rows written by a save with Core statements, not through the ORM's unit of work.

A save adds the rows of the tasks it offered and closes the rows of the tasks that ended. The
ORM flush of those few objects cost more than everything else written under the write lock
(issue 21), so they go in as one `INSERT` and one `UPDATE` per set of changed columns, and the
session's objects are left as a flush would leave them: persistent, with nothing pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, inspect, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.models import TaskRecord

_TABLE = cast(Table, TaskRecord.__table__)


def unflushed_changes(obj: Any) -> dict[str, Any]:
    """A persistent object's column attributes changed in the session and not yet written, by key."""
    state = inspect(obj)
    changed = {}
    for attr in state.mapper.column_attrs:
        added = state.attrs[attr.key].history.added
        if added:
            changed[attr.key] = added[0]
    return changed


def insert_new(session: Session, rows: list[TaskRecord]) -> None:
    """Insert new (transient) task rows in one statement; they become persistent in `session`."""
    if not rows:
        return
    columns = inspect(TaskRecord).column_attrs
    for row in rows:
        for attr in columns:
            if attr.key not in row.__dict__:  # unset: the column's default, else NULL (never expired)
                default = attr.columns[0].default
                setattr(row, attr.key, default.arg if default is not None and default.is_scalar else None)
    with session.no_autoflush:  # the statement is the write; a flush first would write nothing more
        session.execute(insert(_TABLE), [{attr.key: getattr(row, attr.key) for attr in columns} for row in rows])
    for row in rows:
        make_transient_to_detached(row)
        session.add(row)


def update_changed(session: Session, rows: Iterable[TaskRecord]) -> None:
    """Write the unflushed column changes of persistent task rows, one `UPDATE` per set of columns."""
    by_columns: dict[tuple[str, ...], list[tuple[TaskRecord, dict[str, Any]]]] = {}
    for row in rows:
        changes = unflushed_changes(row)
        if changes:
            by_columns.setdefault(tuple(sorted(changes)), []).append((row, changes))
    for keys, group in by_columns.items():
        statement = (
            update(_TABLE).where(_TABLE.c.id == bindparam("row_id")).values({k: bindparam(f"new_{k}") for k in keys})
        )
        params = [{"row_id": row.id, **{f"new_{k}": v for k, v in changes.items()}} for row, changes in group]
        with session.no_autoflush:  # else the session's flush would write these rows first, then this again
            session.execute(statement, params)
        for row, changes in group:
            for key, value in changes.items():
                set_committed_value(row, key, value)
