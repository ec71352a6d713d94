"""Task-index rows written by a save with Core statements, not through the ORM's unit of work.

A save adds the rows of the tasks it offered (and closes the rows of the tasks that ended with
`engine.db.write_changes`). The ORM flush of those few objects cost more than everything else
written under the write lock (issue 21), so they go in as one `INSERT`, and the session's
objects are left as a flush would leave them: persistent, with nothing pending.
"""

from __future__ import annotations

from sqlalchemy import insert, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from engine.models import TaskRecord

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
