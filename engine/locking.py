"""The instance version lock, and the changes recorded under it without touching the workflow.

`lock_instance` is the first write of every change to a process instance. `record_change`
records a change that leaves the workflow state alone (claim, release, reassignment, escalation,
incident, retention purge, key rotation): the lock, `updated_at` and one audit event. Saving a
workflow that moved is engine/persist.py, which takes the same lock; the two are the only
writers of the audit trail.

A writer that must lock the instance before touching other rows (an escalation, before the worker
re-takes the timer's lease) calls `record_change` first: instance first, always.

Optimistic actions (`optimistic`): an engine action reads the instance and its version and does all
its CPU work (load, scripts, steps, serialization, sealing) without the write lock; the lock is
taken at its first write, the version check, which fails fast (`StaleRead`) when another writer
changed the instance meanwhile; the action is then discarded and run again from the read, at most
MAX_ATTEMPTS times. On SQLite the transaction begins deferred (`BEGIN`) and the first write ends the
read snapshot and takes the write lock (`BEGIN IMMEDIATE`), so a slow script in one request never
holds the database against another's; on PostgreSQL reads take no lock anyway. A retry on SQLite
keeps the write lock it took (the retry cannot lose again): the loser of a race writes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, bindparam, event, func, inspect, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit
from engine.db import insert_objects, unflushed_changes
from engine.errors import ConcurrentUpdate
from engine.models import AuditEvent, ProcessInstance, TaskRecord

MAX_ATTEMPTS = 3
_READ_PHASE = "waypoint_read_phase"
_BEGUN = "waypoint_begun"
_T = TypeVar("_T")


class StaleRead(ConcurrentUpdate):
    """The instance changed between an optimistic action's read and its write: run it again."""


def optimistic(session: Session, attempt: Callable[[], _T]) -> _T:
    """Run `attempt` (an engine action) optimistically; again from the read after a StaleRead."""
    for n in range(MAX_ATTEMPTS):
        if n == 0:
            begin_reads(session)
        elif n < MAX_ATTEMPTS - 1 and session.get_bind().dialect.name != "sqlite":
            _start_phase(session, -1, retryable=True)  # PostgreSQL: read again, still without a lock
        try:
            result = attempt()
        except StaleRead:
            end_reads(session)
            if n == MAX_ATTEMPTS - 1:
                raise
            for obj in list(session.new):  # nothing of the lost attempt is written
                session.expunge(obj)
            session.expire_all()
        except BaseException:
            end_reads(session)  # the caller rolls back
            raise
        else:
            end_reads(session, relock=True)
            return result
    raise AssertionError("unreachable")


def end_reads(session: Session, *, relock: bool = False) -> None:
    """End a read phase that took no lock (the action wrote nothing, or failed): autoflush as it
    was and, with `relock` (SQLite, the transaction goes on), the write lock back as the caller's
    transaction had it, so what the caller writes next cannot meet a stale snapshot."""
    phase = session.info.pop(_READ_PHASE, None)
    if phase is None:
        return
    session.autoflush = phase[2]
    if relock and phase[1] >= 0 and phase[0] is session.get_transaction():
        connection = session.connection()
        if _changes(connection) == phase[1]:
            connection.exec_driver_sql("COMMIT")
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def begin_reads(session: Session) -> bool:
    """On SQLite, run the session's transaction without the write lock until the action's first write.

    The caller's transaction (`Database.transaction`) begins with `BEGIN IMMEDIATE` at its first
    statement. If nothing ran in it yet, it begins deferred instead (`BEGIN`); if it only read so
    far (the API reads the task before completing it), its lock is given back (`COMMIT; BEGIN`:
    nothing to commit) and a change since the caller's reads is then a conflict, not a retry.
    `take_write_lock` takes the lock again at the first write. A transaction that wrote keeps it."""
    transaction = session.get_transaction()
    if transaction is None or session.in_nested_transaction():
        return False  # a savepoint would not survive giving the lock back (COMMIT ends it)
    watch_writes(session.get_bind())
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not transaction._connections:  # noqa: SLF001 (no public "has it begun")
        changes = _changes(session.connection(execution_options={"waypoint_write": False})) if sqlite else -1
        return _start_phase(session, changes, retryable=True)
    if not sqlite or session.new or session.dirty or session.deleted:
        return False
    connection = session.connection()
    if connection.info.get(_BEGUN) != (id(connection), _changes(connection)):
        return False  # it wrote something (or began before we watched): keep the lock
    connection.exec_driver_sql("COMMIT")
    connection.exec_driver_sql("BEGIN")
    return _start_phase(session, _changes(connection), retryable=False)


def _start_phase(session: Session, changes: int, *, retryable: bool) -> bool:
    session.info[_READ_PHASE] = (session.get_transaction(), changes, session.autoflush, retryable)
    session.autoflush = False  # a read phase writes nothing, not even a query's autoflush
    return True


def watch_writes(engine: Any) -> None:
    """Record, at each BEGIN on `engine` (SQLite), how many rows the connection had changed, so
    `begin_reads` can tell a transaction that only read (from then on: `begin_reads` calls it)."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "begin", _on_begin):
        return
    event.listen(engine, "begin", _on_begin)


def _on_begin(connection: Any) -> None:
    connection.info[_BEGUN] = (id(connection), _changes(connection))


def take_write_lock(session: Session) -> bool:
    """End an optimistic read phase: take the write lock with a fresh snapshot (SQLite). True when
    the action may be run again from the read (a version mismatch is then a StaleRead)."""
    phase = session.info.pop(_READ_PHASE, None)
    if phase is None:
        return False
    session.autoflush = phase[2]
    if phase[0] is not session.get_transaction():
        return False
    connection = session.connection()
    if phase[1] >= 0 and _changes(connection) == phase[1]:  # SQLite, nothing written: end the read
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return bool(phase[3])


def _changes(connection: Any) -> int:
    return int(connection.connection.dbapi_connection.total_changes)


def reserve_instance_id(session: Session) -> int:
    """An id for a new instance, read without writing (checked by `claim_instance_id`)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.scalar(text("SELECT nextval(pg_get_serial_sequence('process_instances', 'id'))")) or 0)
    return _last_instance_id(session) + 1


def claim_instance_id(session: Session, instance: ProcessInstance) -> None:
    """Take the write lock and insert the new `instance` (and its state) under its reserved id, or
    StaleRead."""
    optimistic_phase = take_write_lock(session)
    if session.get_bind().dialect.name != "postgresql" and _last_instance_id(session) >= instance.id:
        if optimistic_phase:
            raise StaleRead("concurrent_save")
        raise ConcurrentUpdate("concurrent_save")
    stored = instance.stored_state
    if stored is not None:
        stored.instance_id = instance.id
    insert_objects(session, [instance, *([stored] if stored is not None else [])])


def optimistic_action(action: Callable[..., _T]) -> Callable[..., _T]:
    """Decorate an Engine action `(self, session, ...)` to run through `optimistic`."""

    @functools.wraps(action)
    def run(self: Any, session: Session, *args: Any, **kwargs: Any) -> _T:
        return optimistic(session, lambda: action(self, session, *args, **kwargs))

    return run


def _last_instance_id(session: Session) -> int:
    # SQLite gives a new row max(id) + 1 (no AUTOINCREMENT), so that is the id to reserve
    return int(session.scalar(select(func.max(ProcessInstance.table().c.id))) or 0)


def lock_instance(session: Session, instance: ProcessInstance) -> None:
    """Bump the instance's version if it is still the one we loaded, else ConcurrentUpdate.

    `UPDATE ... SET version = version + 1 WHERE id = :id AND version = :v` is the first write
    of every action (autoflush held back), so a loser fails here before writing anything
    else, and row locks are always taken in the same order (instance first): no deadlocks.
    The instance's own changes so far (data, summary...) ride in the same statement; its workflow
    state (`instance_states`, compressed when assigned) is written after it (engine/persist.py),
    under the lock: never by a loser.
    """
    changes = unflushed_changes(instance) if inspect(instance).persistent else {}
    params = {"row_id": instance.id, "row_version": instance.version, **{f"new_{k}": v for k, v in changes.items()}}
    optimistic_phase = take_write_lock(session)
    with session.no_autoflush:
        result = session.execute(_version_lock_statement(tuple(sorted(changes))), params)
    if cast(CursorResult[Any], result).rowcount != 1:  # an UPDATE's result is a cursor result
        raise StaleRead("concurrent_save") if optimistic_phase else ConcurrentUpdate("concurrent_save")
    for key, value in [*changes.items(), ("version", instance.version + 1)]:
        set_committed_value(instance, key, value)


@functools.cache
def _version_lock_statement(columns: tuple[str, ...]) -> Any:
    """`lock_instance`'s statement for one set of changed columns, built once (building it cost
    more than running it)."""
    table = ProcessInstance.table()
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.version == bindparam("row_version"))
        .values({table.c.version: table.c.version + 1, **{table.c[c]: bindparam(f"new_{c}") for c in columns}})
    )


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
    instance.updated_at = at
    lock_instance(session, instance)
    event = append_event(session, instance, at, actor, dict(action=action, task=task, task_id=task_id, details=details))
    session.flush()
    return event


def append_event(session: Session, instance: ProcessInstance, at: datetime, actor: str, event: dict) -> AuditEvent:
    """One audit event of a locked change: `action`, optional `task` (a TaskRecord), `task_id`,
    `element` ((id, name); default: the task's) and `details`."""
    return audit.append(session, instance, **_event_columns(at, actor, event))


def event_entry(instance: ProcessInstance, at: datetime, actor: str, event: dict) -> dict[str, Any]:
    """`append_event`'s row, unwritten: a save computes its events before the lock and writes them
    after the version check (`audit.insert`)."""
    return audit.entry(instance, **_event_columns(at, actor, event))


def _event_columns(at: datetime, actor: str, event: dict) -> dict[str, Any]:
    task = event.get("task")
    element_id, element_name = event.get("element") or (
        (task.element_id, task.name) if task is not None else (None, None)
    )
    return dict(
        at=at,
        actor=actor,
        action=event["action"],
        task_id=task.id if task is not None else event.get("task_id"),
        element_id=element_id,
        element_name=element_name,
        details=event.get("details"),
    )
