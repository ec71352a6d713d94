"""A save writes its task rows with Core statements (engine/task_rows.py): one INSERT for the rows it
offered, one UPDATE per set of changed columns for the rows it closed, nothing written twice, and
the session's objects left as a flush leaves them (persistent, nothing pending, no reload)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from engine.models import TaskRecord
from tests.engine.test_short_write import completion, statements
from tests.reliability.harness import FLOW_KEY, deploy_flow, ready_tasks, started_request


def task_writes(seen: list[str]) -> list[str]:
    return [s.split(" SET ")[0].split(" (")[0] for s in seen if s.startswith(("INSERT INTO tasks", "UPDATE tasks"))]


@contextmanager
def flushed_task_rows(session: Session) -> Iterator[list[TaskRecord]]:
    """Task rows the session's unit of work was left to write (none: the save wrote them itself)."""
    left: list[TaskRecord] = []

    def grab(s: Session, *_: object) -> None:
        left.extend(o for o in [*s.new, *s.dirty] if isinstance(o, TaskRecord) and s.is_modified(o))

    event.listen(session, "before_flush", grab)
    try:
        yield left
    finally:
        event.remove(session, "before_flush", grab)


def test_a_start_inserts_its_rows_once_and_leaves_them_loaded(people, engine):
    deploy_flow(people, engine)
    with statements(people) as seen, people.transaction() as s, flushed_task_rows(s) as left:
        instance = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe")
        assert left == []
        rows = list(s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)))
        assert len(rows) == 2 and not s.new and not s.dirty
        assert all(inspect(row).persistent and not inspect(row).expired_attributes for row in rows)
        before = len(seen)
        columns = [(r.status, r.completed_at, r.claimed_by_id, r.approval) for r in rows]
        assert columns == [("ready", None, None, True)] * 2
        assert len(seen) == before  # every column was set: reading them runs no statement
    assert task_writes(seen) == ["INSERT INTO tasks"]  # both rows in one statement


def test_a_completion_updates_the_row_it_closed_once(people, engine):
    iid, staff = started_request(people, engine)
    task_id, _, role, _ = ready_tasks(people, [iid])[0]
    with statements(people) as seen, people.transaction() as s, flushed_task_rows(s) as left:
        row = completion(engine, task_id, staff[role][0])(s)
        assert not s.dirty and inspect(row).persistent and left == []
    assert task_writes(seen) == ["UPDATE tasks"]
    with people.reading() as s:
        done = s.get(TaskRecord, task_id)
        assert (done.status, done.completed_by.username) == ("completed", staff[role][0])
        assert done.completed_at is not None
        assert len(ready_tasks(people, [iid])) == 1


def test_a_cancellation_closes_every_open_row_in_one_statement(people, engine):
    deploy_flow(people, engine)
    with people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    with statements(people) as seen, people.transaction() as s, flushed_task_rows(s) as left:
        engine.cancel(s, iid, "jdoe", "plans changed")
        assert left == []
    assert task_writes(seen) == ["UPDATE tasks"]
    with people.reading() as s:
        rows = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == iid)).all()
        assert sorted(r.status for r in rows) == ["cancelled", "cancelled"]
        assert all(r.completed_at is not None and r.completed_by_id is None for r in rows)
