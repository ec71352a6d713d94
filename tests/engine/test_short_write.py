"""An action's write is short: everything it reads (the task index, each new task's owners, the
recipients of its emails, the timers and subscriptions it rewrites) and renders is done before its
version check, the first write; from there on it only writes, a fixed handful of statements
(engine/persist.py `save_workflow`). Statement counts, no timings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select

from engine.models import AuditEvent, OutboxMessage, ProcessInstance, Timer
from engine.people.users import users_with_role
from tests.reliability.harness import (
    FLOW_KEY,
    deploy_flow,
    ready_tasks,
    seed_workers,
    waiting_for_go_ahead,
    worker_users,
)

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def statements(db) -> Iterator[list[str]]:
    """Every statement run on `db` inside the block, in order."""
    seen: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def from_the_first_write(seen: list[str]) -> list[str]:
    first = next(i for i, statement in enumerate(seen) if statement.startswith(WRITES))
    return seen[first:]


def run(db, action: Callable) -> list[str]:
    with statements(db) as seen, db.transaction() as s:
        action(s)
    return from_the_first_write(seen)


def completion(engine, task_id: str, who: str) -> Callable:
    return lambda s: engine.complete(s, task_id, who, {"decision": "approve"})


def test_reads_and_rendering_come_before_the_first_write(people, engine):
    """A start (two queue tasks, their emails and timers), a completion, a message that offers the
    next task, and the completion that ends the request: after the first write, nothing is read
    but the audit trail an ending request's email quotes."""
    deploy_flow(people, engine)
    seed_workers(people, engine, 1)
    staff = worker_users(0)
    written = {"start": run(people, lambda s: engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe"))}
    tasks = ready_tasks(people)
    assert len(tasks) == 2
    for task_id, _, role, _ in tasks:
        written[f"complete {role}"] = run(people, completion(engine, task_id, staff[role][0]))
    [iid] = {iid for _, iid, _, _ in tasks}
    written["message"] = run(people, lambda s: engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid}))
    [(final, _, role, _)] = ready_tasks(people)
    written["end"] = run(people, completion(engine, final, staff[role][0]))
    reads = {name: [s for s in seen if not s.startswith(WRITES)] for name, seen in written.items()}
    ended_reads = reads.pop("end")
    assert all(r == [] for r in reads.values()), reads
    assert all("FROM audit_events" in r or "FROM outbox" in r for r in ended_reads), ended_reads
    with people.reading() as s:
        assert s.get(ProcessInstance, iid).status == "completed"
        assert s.scalar(select(func.count()).select_from(Timer)) == 0
        assert s.scalar(select(func.count()).where(AuditEvent.instance_id == iid)) == 6
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) > 2


def test_the_write_is_a_fixed_handful_of_statements(people, engine):
    """One statement per table an action changes, however many people its new task's emails go
    to: the message that offers the final sign-off to the supervisors writes the version check
    with the instance's own changes, then its workflow state, the new task row, the audit event, the
    subscription it consumed, the task's reminder timer and the emails (one statement for all of them)."""
    iid, _ = waiting_for_go_ahead(people, engine)
    written = run(people, lambda s: engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid}))
    assert written[0].startswith("UPDATE process_instances SET") and "version" in written[0]
    assert sorted(" ".join(s.split(" ")[:3]) for s in written[1:]) == [
        "DELETE FROM message_subscriptions",
        "INSERT INTO audit_events",
        "INSERT INTO outbox",
        "INSERT INTO tasks",
        "INSERT INTO timers",
        "UPDATE instance_states SET",
    ]
    [(final, _, _, _)] = ready_tasks(people, [iid])
    with people.reading() as s:
        supervisors = [u for u in users_with_role(s, "supervisor") if u.email]
        emails = s.scalar(select(func.count()).where(OutboxMessage.task_id == final))
        assert emails == len(supervisors) > 1  # one INSERT for all of them


def test_the_unit_of_work_has_nothing_left_to_flush(people, engine):
    """A save writes with Core statements (the new request and its state, task rows, changes) and
    leaves what it wrote clean (`engine.db.insert_objects`, `mark_written`): no flush of a start, a
    completion or a message finds anything to write or to walk (a flush cost 0.6-0.8 ms of every
    action: the unit of work walked each object flagged changed to find nothing)."""
    deploy_flow(people, engine)
    seed_workers(people, engine, 1)
    staff = worker_users(0)
    flushed: list[str] = []

    def note(session, _context, _instances) -> None:
        flushed.extend(type(obj).__name__ for obj in [*session.new, *session.dirty])

    def watched(action: Callable) -> None:
        with people.transaction() as s:
            event.listen(s, "before_flush", note)
            action(s)
            assert not s.dirty and not s.new  # all of it written, nothing pending

    watched(lambda s: engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe"))
    tasks = ready_tasks(people)
    for task_id, _, role, _ in tasks:
        watched(completion(engine, task_id, staff[role][0]))
    [iid] = {iid for _, iid, _, _ in tasks}
    watched(lambda s: engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid}))
    assert flushed == []
    assert ready_tasks(people, [iid])  # the message offered the final sign-off: written all the same
    with people.reading() as s:
        assert s.get(ProcessInstance, iid).state  # the start's state went in with the request


def test_an_actions_writes_and_its_queue_read_run_as_core_statements(people, engine):
    """A completion's deletes (the closed task's drafts and reminder timers) and the read of a new
    queue task's members are built on table columns: an ORM-enabled DELETE would first look for
    matching objects in the session, and an ORM select of plain columns costs twice the Core one."""
    deploy_flow(people, engine)
    seed_workers(people, engine, 1)
    staff = worker_users(0)
    with people.transaction() as s:
        engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe")
    orm_writes: list[str] = []
    orm_reads: list[str] = []

    def note(state) -> None:
        text = " ".join(str(state.statement).split())
        if state.is_orm_statement:
            (orm_writes if state.is_insert or state.is_update or state.is_delete else orm_reads).append(text)

    tasks = ready_tasks(people)
    for task_id, _, role, _ in tasks:
        with statements(people) as seen, people.transaction() as s:
            event.listen(s, "do_orm_execute", note)
            completion(engine, task_id, staff[role][0])(s)
        assert {"DELETE FROM task_drafts", "DELETE FROM timers"} <= {" ".join(w.split()[:3]) for w in seen}
    assert orm_writes == []
    [iid] = {iid for _, iid, _, _ in tasks}
    with statements(people) as seen, people.transaction() as s:
        event.listen(s, "do_orm_execute", note)
        engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid})
    assert any("FROM users JOIN user_roles" in w for w in seen)  # the final sign-off's queue members were read
    assert ready_tasks(people, [iid])
    assert not [r for r in orm_reads if "FROM users JOIN user_roles" in r]
