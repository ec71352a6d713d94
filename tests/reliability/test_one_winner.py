"""Exactly one winner: 20 simultaneous attempts at one step (each thread its own session and
transaction) give one success and conflicts for the rest, one audit row, and a version one higher.

tests/engine/test_concurrency.py races 8 threads on the small process; these race 20 on the
reliability process, add message delivery, one person double-submitting, and two (or twenty)
browser tabs posting the same task form through the web app.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from engine import Conflict, NotFound
from engine.models import AuditEvent, ProcessInstance, TaskRecord
from tests.reliability.harness import MESSAGE, check_consistency, drive_to_end, ready_tasks, start_flow, worker_users

THREADS = 20


def race(action: Callable[[int], object], threads: int = THREADS) -> tuple[list[int], list[BaseException]]:
    """Run `action(n)` in `threads` threads released together; (winners, exceptions)."""
    barrier = threading.Barrier(threads)
    wins: list[int] = []
    losses: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        try:
            action(n)
            with lock:
                wins.append(n)
        except BaseException as exc:  # collected and checked by the test
            with lock:
                losses.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not any(t.is_alive() for t in pool), "a racing thread hung"
    return wins, losses


def state(db, instance_id: int) -> tuple[int, dict[str, int]]:
    """(version, audit events per action) of an instance."""
    with db.reading() as s:
        version = s.get(ProcessInstance, instance_id).version
        counts = dict(
            s.execute(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.instance_id == instance_id)
                .group_by(AuditEvent.action)
            ).all()
        )
    return version, counts


def supervisors() -> list[str]:
    """Twenty distinct people who may work the supervisor queue task."""
    people = [name for w in range(8) for name in worker_users(w)["supervisor"]]
    return people[:THREADS]


@pytest.fixture
def one_instance(flow_db, engine):
    [iid] = start_flow(flow_db, engine, 1)
    [check_a] = [t for t, _, role, _ in ready_tasks(flow_db, [iid]) if role == "supervisor"]
    return flow_db, iid, check_a


def assert_one_winner(db, engine, iid, before, wins, losses, action, allowed=(Conflict,)):
    assert len(wins) == 1, losses
    assert len(losses) == THREADS - 1
    unexpected = [e for e in losses if not isinstance(e, allowed)]
    assert not unexpected, unexpected
    version, counts = state(db, iid)
    assert version == before[0] + 1
    assert counts.get(action, 0) == before[1].get(action, 0) + 1
    check_consistency(db, engine)


def test_twenty_people_complete_one_task(one_instance, engine):
    db, iid, task_id = one_instance
    people = supervisors()
    before = state(db, iid)

    def complete(n: int) -> None:
        with db.transaction() as s:
            engine.complete(s, task_id, people[n], {"decision": "approve", "comment": f"thread {n}"})

    wins, losses = race(complete)
    assert_one_winner(db, engine, iid, before, wins, losses, "task_completed")
    with db.reading() as s:
        row = s.get(TaskRecord, task_id)
        assert row.completed_by.username == people[wins[0]]
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.task_id == task_id))
        assert (event.actor, event.details["comment"]) == (people[wins[0]], f"thread {wins[0]}")


def test_one_person_double_submits(one_instance, engine):
    db, iid, task_id = one_instance
    before = state(db, iid)

    def complete(n: int) -> None:
        with db.transaction() as s:
            engine.complete(s, task_id, "w0_sup0", {"decision": "approve", "comment": f"click {n}"})

    wins, losses = race(complete)
    assert_one_winner(db, engine, iid, before, wins, losses, "task_completed")


def test_twenty_people_claim_one_task(one_instance, engine):
    db, iid, task_id = one_instance
    people = supervisors()
    before = state(db, iid)

    def claim(n: int) -> None:
        with db.transaction() as s:
            engine.claim(s, task_id, people[n])

    wins, losses = race(claim)
    assert_one_winner(db, engine, iid, before, wins, losses, "task_claimed")
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).claimed_by.username == people[wins[0]]


def test_twenty_deliveries_of_one_message(one_instance, engine):
    db, iid, _ = one_instance
    for task_id, _, role, _ in ready_tasks(db, [iid]):
        with db.transaction() as s:
            engine.complete(s, task_id, worker_users(0)[role][0], {"decision": "approve"})
    before = state(db, iid)

    def deliver(n: int) -> None:
        with db.transaction() as s:
            engine.deliver_message(s, MESSAGE, {"sender": n}, correlation={"instance": iid})

    wins, losses = race(deliver)
    # A loser that read the subscription before the winner committed gets a conflict; one that
    # looked after finds nobody waiting any more (NotFound): either way nothing is delivered twice.
    assert_one_winner(db, engine, iid, before, wins, losses, "message_received", allowed=(Conflict, NotFound))
    assert all("no request is waiting" in str(e) for e in losses if isinstance(e, NotFound))
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).data["go"] == {"sender": wins[0]}
    drive_to_end(db, engine)
    check_consistency(db, engine)


@pytest.mark.parametrize("tabs", [2, THREADS])
def test_browser_tabs_post_the_same_form(flow_db, engine, web_app, tabs):
    """Two (or twenty) tabs, each its own signed-in session, submit the same task form at once."""
    from tests.web.conftest import Browser

    [iid] = start_flow(flow_db, engine, 1)
    [task_id] = [t for t, _, role, _ in ready_tasks(flow_db, [iid]) if role == "finance"]
    browsers = [Browser(web_app).login("fchan") for _ in range(tabs)]
    page = browsers[0].get(f"/tasks/{task_id}")
    assert page.status_code == 200
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    before = state(flow_db, iid)
    statuses: dict[int, int] = {}

    def post(n: int) -> None:
        response = browsers[n].post(
            f"/tasks/{task_id}", {"decision": "approve", "comment": f"tab {n}", "version": version}
        )
        statuses[n] = response.status_code
        if response.status_code == 409:
            assert "reload" in response.text.lower() or "already completed" in response.text

    wins, losses = race(post, tabs)
    assert not losses, losses
    assert sorted(statuses.values()) == [302] + [409] * (tabs - 1), statuses
    version_after, counts = state(flow_db, iid)
    assert version_after == before[0] + 1
    assert counts["task_completed"] == before[1].get("task_completed", 0) + 1
    check_consistency(flow_db, engine)
