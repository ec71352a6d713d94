"""Optimistic actions: scripts run without the database write lock, the write checks the version,
and a lost race is run again from the read (engine/locking.py `optimistic`).

No timed assertion: a helper called by the deployed process's script or condition parks the
action inside its CPU phase (events, not sleeps) while another transaction writes; if the first
still held the write lock, the second could not commit before the first was let go.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine import Conflict
from engine.definitions import read_sources
from engine.models import AuditEvent, ProcessInstance, TaskRecord
from engine.queries.tasks import list_tasks
from tests.conftest import FIXTURES, make_engine
from tests.reliability.harness import snapshot

SLOW = "slow-action"
WAIT = 30  # seconds a parked action waits for the other writer before giving up (a hang guard)


class Park:
    """A script helper that parks the thread named SLOW until `release`, and tells when it parked."""

    def __init__(self) -> None:
        self.parked = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def __call__(self) -> bool:
        if threading.current_thread().name != SLOW:
            return True
        self.calls += 1
        self.parked.set()
        return self.released.wait(WAIT)


def deployed(db, clock, old: str, new: str):
    park = Park()
    engine = make_engine(clock=clock, helpers={"park": park})
    sources = read_sources([FIXTURES / "small"])
    sources.files["small_approval.bpmn"] = sources.files["small_approval.bpmn"].replace(old, new)
    with db.transaction() as s:
        engine.deploy(s, sources=sources)
    return engine, park


def in_thread(db, action) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        try:
            with db.transaction() as s:
                out["result"] = action(s)
        except Exception as exc:  # checked by the test
            out["error"] = exc

    thread = threading.Thread(target=run, name=SLOW)
    thread.start()
    return thread, out


def test_a_slow_script_does_not_hold_the_write_lock_against_another_start(people, clock):
    db = people
    engine, park = deployed(
        db, clock, "total = round(amount * 1.13, 2)", "total = round(amount * 1.13, 2)\nfree = park()"
    )
    slow, out = in_thread(db, lambda s: engine.start(s, "small_approval", {"title": "Slow", "amount": 1}, "jdoe").id)
    assert park.parked.wait(WAIT)
    with db.transaction() as s:  # would wait for the lock (and time out) if the slow start held it
        other = engine.start(s, "small_approval", {"title": "Other", "amount": 2}, "jdoe").id
    park.released.set()  # only now may the slow start go on
    slow.join(WAIT)
    assert "error" not in out, out
    with db.reading() as s:
        slow_row, other_row = s.get(ProcessInstance, out["result"]), s.get(ProcessInstance, other)
        assert slow_row.id != other_row.id and slow_row.status == other_row.status == "running"
        started = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "started"))
    assert started == 2


def test_the_loser_of_an_optimistic_race_writes_nothing_and_is_told(people, clock):
    db = people
    engine, park = deployed(db, clock, 'decision == "approve"', 'decision == "approve" and park()')
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Race", "amount": 1}, "dlee").id
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)
        version = s.get(ProcessInstance, iid).version
    slow, out = in_thread(db, lambda s: engine.complete(s, task.id, "msmith", {"decision": "approve"}))
    assert park.parked.wait(WAIT)  # the slow completion read version `version` and runs its gateway
    with db.transaction() as s:
        engine.complete(s, task.id, "msmith", {"decision": "reject", "comment": "first"})
    after_winner = snapshot(db)
    park.released.set()
    slow.join(WAIT)
    assert isinstance(out.get("error"), Conflict), out  # retried from the read: the task is done
    assert snapshot(db) == after_winner  # the loser wrote nothing
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        assert (instance.version, instance.outcome) == (version + 1, "Rejected")
        done = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "task_completed")).all()
        assert len(done) == 1 and s.get(TaskRecord, task.id).status == "completed"


def test_a_change_during_the_read_phase_is_retried_not_refused(people, clock):
    """A claim meanwhile bumps the version: the completion runs again from the read (the claimant is
    the completer, so it is still allowed) instead of failing with a conflict."""
    db = people
    engine, park = deployed(db, clock, 'decision == "approve"', 'decision == "approve" and park()')
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Retry", "amount": 1}, "dlee").id
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)
    slow, out = in_thread(db, lambda s: engine.complete(s, task.id, "msmith", {"decision": "approve"}))
    assert park.parked.wait(WAIT)
    with db.transaction() as s:
        engine.claim(s, task.id, "msmith")
    park.released.set()
    slow.join(WAIT)
    assert "error" not in out, out
    assert park.calls == 2  # the gateway ran again, on the fresh read
    with db.reading() as s:
        assert s.get(TaskRecord, task.id).status == "completed"
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == iid)).all()
    assert actions.count("task_claimed") == 1 and actions.count("task_completed") == 1


def test_a_transaction_that_only_read_gives_the_lock_back_for_the_script(people, clock):
    """The API reads the task (and checks If-Match) before completing it in the same transaction:
    the lock its first statement took is given back while the gateway runs. Nothing changed
    meanwhile here, so the completion goes through."""
    db = people
    engine, park = deployed(db, clock, 'decision == "approve"', 'decision == "approve" and park()')
    with db.transaction() as s:
        engine.start(s, "small_approval", {"title": "Warm", "amount": 1}, "jdoe")  # watch this database
        iid = engine.start(s, "small_approval", {"title": "API", "amount": 1}, "dlee").id
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)

    def api_like(s):
        row = s.get(TaskRecord, task.id)  # the caller's own read, in the write transaction
        assert row.instance.version >= 1
        return engine.complete(s, task.id, "msmith", {"decision": "approve"}).id

    slow, out = in_thread(db, api_like)
    assert park.parked.wait(WAIT)
    with db.transaction() as s:  # would wait for the lock (and time out) if the API request held it
        other = engine.start(s, "small_approval", {"title": "Other", "amount": 2}, "jdoe").id
    park.released.set()
    slow.join(WAIT)
    assert "error" not in out, out
    with db.reading() as s:
        assert s.get(TaskRecord, task.id).status == "completed" and s.get(ProcessInstance, other) is not None


def test_a_transaction_that_only_read_is_told_of_a_change_not_retried(people, clock):
    """If the request changed after the caller's own reads, the caller's view is stale: a conflict
    (the client reloads), never an action on data the caller did not see."""
    db = people
    engine, park = deployed(db, clock, 'decision == "approve"', 'decision == "approve" and park()')
    with db.transaction() as s:
        engine.start(s, "small_approval", {"title": "Warm", "amount": 1}, "jdoe")
        iid = engine.start(s, "small_approval", {"title": "API", "amount": 1}, "dlee").id
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)

    def api_like(s):
        s.get(TaskRecord, task.id)
        return engine.complete(s, task.id, "msmith", {"decision": "approve"}).id

    slow, out = in_thread(db, api_like)
    assert park.parked.wait(WAIT)
    with db.transaction() as s:
        engine.claim(s, task.id, "msmith")
    after_claim = snapshot(db)
    park.released.set()
    slow.join(WAIT)
    assert isinstance(out.get("error"), Conflict), out
    assert snapshot(db) == after_claim


def test_an_action_inside_a_savepoint_keeps_the_lock_and_its_savepoint(people, clock):
    """`begin_nested` (the demo history) around an action: giving the lock back would end the
    savepoint, so the action runs as before, and a refusal rolls back to the savepoint only."""
    db = people
    engine, _ = deployed(db, clock, 'decision == "approve"', 'decision == "approve" and park()')
    with db.transaction() as s:
        engine.start(s, "small_approval", {"title": "Warm", "amount": 1}, "jdoe")
    with db.transaction() as s:
        s.get(ProcessInstance, 1)  # a read first, as the demo's autopilot does
        with s.begin_nested():
            kept = engine.start(s, "small_approval", {"title": "Nested", "amount": 1}, "jdoe").id
        try:
            with s.begin_nested():
                engine.start(s, "small_approval", {"title": "Refused", "amount": "not a number"}, "jdoe")
        except Exception:  # refused: only this savepoint is rolled back
            pass
    with db.reading() as s:
        titles = s.scalars(select(ProcessInstance.summary)).all()
        assert s.get(ProcessInstance, kept) is not None and len(titles) == 2
