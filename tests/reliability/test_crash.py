"""Crash safety: a process killed mid-action leaves every instance before or after the step.

A child process (crash_child.py) completes tasks and delivers messages; it is killed with
SIGKILL at a random SQL statement (or commit) of its run, or from outside after a random
delay. Then: every step it acknowledged is there, at most one more step is (the one whose
commit raced the kill), every instance passes `check_consistency` (task index, subscriptions
and audit trail agree with the workflow: nothing half-done), and a restart finishes the work
with each task completed exactly once. An exception raised after the engine ran but before
the commit leaves no trace at all, in any table.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import event, func, select

from engine import locking, persist
from engine.models import AuditEvent, TaskRecord
from tests.reliability.harness import (
    MESSAGE,
    ROOT,
    check_consistency,
    drive_to_end,
    ready_tasks,
    snapshot,
    start_flow,
    worker_users,
)

INSTANCES = 4
DEFAULT_TRIALS = 3
STRESS_TRIALS = 50


def statements_per_instance(db, engine) -> int:
    """SQL statements (and commits) it takes to drive one instance to its end, measured here."""
    count = 0

    def tick(*_args: object, **_kwargs: object) -> None:
        nonlocal count
        count += 1

    start_flow(db, engine, 1)
    event.listen(db.engine, "before_cursor_execute", tick)
    event.listen(db.engine, "commit", tick)
    try:
        drive_to_end(db, engine)
    finally:
        event.remove(db.engine, "before_cursor_execute", tick)
        event.remove(db.engine, "commit", tick)
    return count


def steps_done(db) -> int:
    with db.reading() as s:
        return s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.in_(["task_completed", "message_received"]))
        )


def run_child(db, kill_at: int, kill_after: float | None) -> tuple[int, list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", db.url, str(kill_at)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        if kill_after is not None:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    return proc.returncode, out.splitlines(), err


def crash_trials(db, engine, trials: int, seed: int) -> dict:
    rng = random.Random(seed)
    per_instance = statements_per_instance(db, engine)
    figures = {"trials": 0, "killed": 0, "acknowledged": 0, "in_flight_committed": 0, "resumed_steps": 0}
    for trial in range(trials):
        start_flow(db, engine, INSTANCES)
        before = steps_done(db)
        outside = trial % 3 == 2  # every third trial: killed from outside, at a random moment
        kill_at = 0 if outside else rng.randint(1, per_instance * INSTANCES)
        code, lines, _ = run_child(db, kill_at, rng.uniform(0.05, 0.6) if outside else None)
        acked = [line.split()[1:] for line in lines if line.startswith("committed")]
        figures["trials"] += 1
        figures["killed"] += code == -signal.SIGKILL
        # durability: every acknowledged step is there; at most the one in flight besides
        done = steps_done(db) - before
        assert done - len(acked) in (0, 1), (trial, kill_at, done, len(acked))
        figures["acknowledged"] += len(acked)
        figures["in_flight_committed"] += done - len(acked)
        with db.reading() as s:
            for kind, ident in acked:
                if kind == "task":
                    assert s.get(TaskRecord, ident).status == "completed", (trial, ident)
        # atomicity: every instance is before or after each step, never between
        check_consistency(db, engine)
        # restart: another process (here: this one) finishes the work
        figures["resumed_steps"] += drive_to_end(db, engine)
        assert ready_tasks(db) == []
        stats = check_consistency(db, engine)
        assert stats.by_status == {"completed": stats.instances}, stats
    print(f"\ncrash figures ({db.dialect}): {figures}")
    return figures


def test_killed_mid_step_leaves_instances_before_or_after(flow_db, engine):
    figures = crash_trials(flow_db, engine, DEFAULT_TRIALS, seed=7)
    assert figures["killed"] >= 1


@pytest.mark.stress
def test_stress_fifty_kills(flow_db, engine):
    figures = crash_trials(flow_db, engine, STRESS_TRIALS, seed=2024)
    assert figures["killed"] >= STRESS_TRIALS // 2


# --- an exception after the engine ran, before commit -------------------------------------------
class Injected(Exception):
    pass


def _boom(*_args: object, **_kwargs: object) -> None:
    raise Injected("injected failure")


INJECTION_POINTS = {
    # after the caller's engine call returned, inside its transaction
    "caller": None,
    # inside the pipelined writes after the version check (outbox rows, task timers)
    "follow_ups": (persist.notifications, "write_follow_ups"),
    # the last thing the write path does before returning (the notices that read the trail)
    "send_notices": (persist.notifications, "send_notices"),
    # while bringing timers and subscriptions level, after the version check
    "sync_all": (persist, "write_sync"),
    # while computing the audit event (a save before its lock; claim/release under it)
    "audit": (locking.audit, "entry"),
}


def _act(db, engine, action: str, iid: int, task_id: str, people: dict) -> None:
    with db.transaction() as s:
        if action == "start":
            engine.start(s, "reliability_flow", {"title": "Injected"}, "jdoe")
        elif action == "complete":
            engine.complete(s, task_id, people["supervisor"][0], {"decision": "approve"})
        elif action == "claim":
            engine.claim(s, task_id, people["supervisor"][0])
        elif action == "message":
            engine.deliver_message(s, MESSAGE, {}, correlation={"instance": iid})
        elif action == "cancel":
            engine.cancel(s, iid, "jdoe", "injected")
        raise Injected("caller failed after the engine ran")


CASES = [
    (action, point)
    for action in ("start", "complete", "claim", "message", "cancel")
    for point in INJECTION_POINTS
    # a claim does not save the workflow
    if not (action == "claim" and point in ("follow_ups", "send_notices", "sync_all"))
]


@pytest.mark.parametrize(("action", "point"), CASES)
def test_exception_before_commit_leaves_no_trace(flow_db, engine, monkeypatch, action, point):
    db = flow_db
    people = worker_users(0)
    [iid] = start_flow(db, engine, 1, starter="jdoe")
    tasks = ready_tasks(db, [iid])
    if action == "message":
        for task_id, _, role, _ in tasks:
            with db.transaction() as s:
                engine.complete(s, task_id, people[role][0], {"decision": "approve"})
    [task_id] = [t for t, _, role, _ in tasks if role == "supervisor"]
    target = INJECTION_POINTS[point]
    if target is not None:
        module, name = target
        monkeypatch.setattr(module, name, _boom)
    before = snapshot(db)
    with pytest.raises(Injected):
        _act(db, engine, action, iid, task_id, people)
    assert snapshot(db) == before
    monkeypatch.undo()
    check_consistency(db, engine)
    if action != "start":  # and the same action then works: no stale version, no half state
        with pytest.raises(Injected):
            _act(db, engine, action, iid, task_id, people)  # the caller still raises after it...
        assert snapshot(db) == before  # ...so again nothing stays
        with db.transaction() as s:
            {
                "complete": lambda: engine.complete(s, task_id, people["supervisor"][0], {"decision": "approve"}),
                "claim": lambda: engine.claim(s, task_id, people["supervisor"][0]),
                "message": lambda: engine.deliver_message(s, MESSAGE, {}, correlation={"instance": iid}),
                "cancel": lambda: engine.cancel(s, iid, "jdoe", "for real"),
            }[action]()
        check_consistency(db, engine)
