"""Optimistic locking: of many simultaneous completions or claims, exactly one wins."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine import ConcurrentUpdate, Conflict
from engine.models import AuditEvent, ProcessInstance, TaskRecord
from engine.queries.tasks import list_tasks
from tests.conftest import FIXTURES

THREADS = 8


@pytest.fixture
def waiting_review(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        instance = engine.start(s, "small_approval", {"title": "Race", "amount": 10}, "dlee")  # queue task
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=instance.id)
        version = s.get(ProcessInstance, instance.id).version
    return db, instance.id, task.id, version


def race(db, action) -> tuple[list[str], list[Exception]]:
    barrier = threading.Barrier(THREADS)
    wins: list[str] = []
    losses: list[Exception] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        try:
            with db.transaction() as s:
                action(s, n)
            with lock:
                wins.append(n)
        except Exception as exc:  # collected and checked below
            with lock:
                losses.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return wins, losses


def counts(db, instance_id, action):
    with db.reading() as s:
        audit_rows = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
        )
        return audit_rows, s.get(ProcessInstance, instance_id).version


def test_simultaneous_completions_one_winner(waiting_review, engine):
    db, instance_id, task_id, version = waiting_review
    wins, losses = race(
        db, lambda s, n: engine.complete(s, task_id, "msmith", {"decision": "approve", "comment": f"thread {n}"})
    )
    assert len(wins) == 1, losses
    assert len(losses) == THREADS - 1 and all(isinstance(e, Conflict) for e in losses), losses
    assert counts(db, instance_id, "task_completed") == (1, version + 1)


def test_simultaneous_claims_one_winner(waiting_review, engine, clock):
    db, instance_id, task_id, version = waiting_review
    from engine.people.users import add_user

    with db.transaction() as s:
        for n in range(THREADS):
            add_user(s, f"sup{n}", now=clock.now(), roles=["supervisor"])
    wins, losses = race(db, lambda s, n: engine.claim(s, task_id, f"sup{n}"))
    assert len(wins) == 1, losses
    assert all(isinstance(e, Conflict) for e in losses), losses
    assert counts(db, instance_id, "task_claimed") == (1, version + 1)


def test_stale_expected_version_is_a_conflict(waiting_review, engine):
    db, instance_id, task_id, version = waiting_review
    with pytest.raises(ConcurrentUpdate):
        with db.transaction() as s:
            engine.complete(s, task_id, "msmith", {"decision": "approve"}, expected_version=version - 1)
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "approve"}, expected_version=version)


def test_lost_race_between_load_and_save_is_detected(waiting_review, engine):
    """PostgreSQL lets two transactions read the same version; the later writer must lose."""
    db, instance_id, task_id, version = waiting_review
    if db.is_sqlite:
        pytest.skip("SQLite serializes writers at BEGIN IMMEDIATE, so this interleaving cannot happen there")
    with db.transaction() as late:
        # read (and hold: the identity map is weak) before the other transaction commits
        stale = (late.get(ProcessInstance, instance_id), late.get(TaskRecord, task_id))
        with db.transaction() as early:
            engine.complete(early, task_id, "msmith", {"decision": "approve"})
        with pytest.raises(ConcurrentUpdate):
            engine.complete(late, task_id, "msmith", {"decision": "reject"})
        assert stale[0].version == version  # the late transaction really held the old version
        late.rollback()
    assert counts(db, instance_id, "task_completed") == (1, version + 1)
