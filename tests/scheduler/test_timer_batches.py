"""BPMN timers fire in batches: one transaction for a run of them, and a failing or racing one costs
the others nothing (each of them fires once)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import event, select

from engine.errors import ConcurrentUpdate
from engine.models import AuditEvent, ProcessInstance, Timer
from engine.runtime import Engine
from engine.worker.reminders import Claimed
from engine.worker.timer_batches import runs
from tests.scheduler.conftest import start

TITLES = ("1", "2", "not a number", "4", "5")  # failing_timer: after an hour, int(title)


def start_all(db, engine, titles=TITLES) -> list[int]:
    return [start(db, engine, key="failing_timer", title=title) for title in titles]


def fired_and_ended(db) -> tuple[Counter, Counter]:
    with db.reading() as s:
        events = s.execute(select(AuditEvent.instance_id, AuditEvent.action)).all()
    return (
        Counter(iid for iid, action in events if action == "timer_fired"),
        Counter(iid for iid, action in events if action == "ended"),
    )


def statuses(db, ids) -> dict[int, str]:
    with db.reading() as s:
        rows = s.execute(select(ProcessInstance.id, ProcessInstance.status).where(ProcessInstance.id.in_(ids)))
        return {iid: status for iid, status in rows}


def timers_by_instance(db) -> dict[int, Timer]:
    with db.reading() as s:
        return {t.instance_id: t for t in s.scalars(select(Timer))}


def test_a_run_of_timers_is_one_transaction_and_reads_each_request_once(flows, engine, clock, make_worker):
    db = flows
    ids = start_all(db, engine, [str(n) for n in range(5)])
    clock.advance(hours=1, seconds=1)
    commits: list[object] = []
    statements: list[str] = []

    def commit(connection) -> None:
        commits.append(connection)

    def execute(connection, cursor, sql, *args) -> None:
        statements.append(sql)

    event.listen(db.engine, "commit", commit)
    event.listen(db.engine, "before_cursor_execute", execute)
    try:
        assert make_worker().run_timers() == (5, 0, 0)
    finally:
        event.remove(db.engine, "commit", commit)
        event.remove(db.engine, "before_cursor_execute", execute)
    assert len(commits) == 2  # the claim, then the five firings
    assert fired_and_ended(db) == (Counter(dict.fromkeys(ids, 1)), Counter(dict.fromkeys(ids, 1)))
    assert set(statuses(db, ids).values()) == {"completed"} and timers_by_instance(db) == {}
    # the timer, its request, the request's process version, state and requester: one statement per firing
    assert sum(sql.lstrip().startswith("SELECT timers.") and "instance_states" in sql for sql in statements) == 5
    apart = ("SELECT process_definitions.", "SELECT instance_states.", "FROM users WHERE users.id = ")
    assert not [sql for sql in statements if any(read in " ".join(sql.split()) for read in apart)]


def test_a_failing_timer_is_counted_alone_and_the_others_fire_once(flows, engine, clock, make_worker):
    db = flows
    ids = start_all(db, engine)
    bad = ids[TITLES.index("not a number")]
    clock.advance(hours=1, seconds=1)
    assert make_worker(owner="w").run_timers() == (len(ids) - 1, 0, 1)
    good = [iid for iid in ids if iid != bad]
    assert fired_and_ended(db) == (Counter(dict.fromkeys(good, 1)), Counter(dict.fromkeys(good, 1)))
    assert statuses(db, ids) == {**dict.fromkeys(good, "completed"), bad: "running"}
    [timer] = timers_by_instance(db).values()
    assert (timer.instance_id, timer.attempts, timer.lease_owner) == (bad, 1, None)
    assert "int()" in timer.last_error and timer.lease_until > clock.now()  # backing off, alone


def test_a_timer_that_loses_a_race_in_a_batch_is_left_for_later_and_the_others_fire_once(
    flows, engine, clock, make_worker, monkeypatch
):
    db = flows
    ids = start_all(db, engine, [str(n) for n in range(4)])
    raced = ids[1]
    fire, lost = Engine.fire_timer, []

    def fire_or_lose(self, session, timer_id):
        if session.get(Timer, timer_id).instance_id == raced and len(lost) < 2:
            lost.append(timer_id)  # someone acted on the request as the batch, then it alone, fired it
            raise ConcurrentUpdate("concurrent_save")
        return fire(self, session, timer_id)

    monkeypatch.setattr(Engine, "fire_timer", fire_or_lose)
    clock.advance(hours=1, seconds=1)
    worker = make_worker(owner="w")
    assert worker.run_timers() == (3, 1, 0)
    others = [iid for iid in ids if iid != raced]
    assert fired_and_ended(db) == (Counter(dict.fromkeys(others, 1)), Counter(dict.fromkeys(others, 1)))
    [timer] = timers_by_instance(db).values()
    assert (timer.instance_id, timer.attempts, timer.lease_owner) == (raced, 0, None)  # released, not failed
    assert len(lost) == 2
    assert worker.run_timers() == (1, 0, 0)
    assert fired_and_ended(db)[0] == Counter(dict.fromkeys(ids, 1))


def test_a_run_holds_each_request_once_and_at_most_its_size():
    def claimed(timer_id: int, instance_id: int) -> Claimed:
        return Claimed(timer_id, "bpmn_timer", instance_id, f"t{timer_id}", datetime(2026, 1, 1, tzinfo=UTC))

    batch = [claimed(1, 10), claimed(2, 11), claimed(3, 10), claimed(4, 12), claimed(5, 13), claimed(6, 14)]
    assert [[c.id for c in run] for run in runs(batch, 3)] == [[1, 2], [3, 4, 5], [6]]
