"""Exactly once: workers racing (threads and processes), stale claims, killed workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from engine.models import AuditEvent, OutboxMessage, ProcessInstance, TaskRecord, Timer
from engine.taskindex import BPMN_TIMER, TASK_ESCALATION, TASK_REMINDER
from tests.scheduler import procs
from tests.scheduler.conftest import outbox_rows, start

INSTANCES = 8
# Worker processes fork from a server that imported the engine once per test run: each starts in milliseconds.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload(["tests.scheduler.procs"])


def fired_per_instance(db) -> Counter:
    with db.reading() as s:
        return Counter(s.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")))


def late_tasks(db) -> Counter:
    with db.reading() as s:
        return Counter(s.scalars(select(TaskRecord.instance_id).where(TaskRecord.element_id == "Task_late")))


def emails_per_task(db, kind: str) -> Counter:
    return Counter(r.task_id for r in outbox_rows(db, kind))


def race_threads(workers) -> None:
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker) -> None:
        barrier.wait()
        try:
            worker.drain()
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_threads_race_each_timer_fires_once(flows, engine, clock, make_worker, smtp):
    db = flows
    ids = [start(db, engine, key="timer_race") for _ in range(INSTANCES)]
    workers = [make_worker(owner=f"thread-{n}", batch=2, email_batch=3) for n in range(4)]

    clock.advance(days=1, seconds=1)  # every acknowledgement's reminder is due
    race_threads(workers)
    reminders = emails_per_task(db, "reminder")
    assert len(reminders) == INSTANCES and set(reminders.values()) == {1}

    clock.advance(days=1)  # every boundary timer is due
    race_threads(workers)
    assert fired_per_instance(db) == Counter(dict.fromkeys(ids, 1))
    assert late_tasks(db) == Counter(dict.fromkeys(ids, 1))
    late_mail = [r for r in outbox_rows(db, "new_task") if r.recipient.startswith("dlee")]
    assert len(late_mail) == INSTANCES
    assert len(outbox_rows(db, "reminder")) == INSTANCES  # the next reminder is 30 days away
    rows = outbox_rows(db)
    assert {r.status for r in rows} == {"sent"}
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert sorted(received) == sorted(r.message_id for r in rows) and set(received.values()) == {1}


def test_processes_race_each_timer_fires_once(flows, engine, clock, smtp, tmp_path):
    """Three worker processes start at the same moment on the same due timers."""
    db = flows
    ids = [start(db, engine, key="timer_race") for _ in range(INSTANCES)]
    reviews = [start(db, engine) for _ in range(INSTANCES)]  # reminder_demo: first reminder at 2 days
    now = clock.advance(days=2, seconds=1)
    start_at = time.time() + 1.0  # every child waits for this moment, then they race
    children = [
        PROCESSES.Process(
            target=procs.drain,
            args=(db.url, now.isoformat(), f"proc-{n}", smtp.port, 2, start_at, str(tmp_path / f"fired-{n}")),
        )
        for n in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0, 0]

    assert fired_per_instance(db) == Counter(dict.fromkeys(ids, 1))
    assert late_tasks(db) == Counter(dict.fromkeys(ids, 1))
    review_reminders = [r for r in outbox_rows(db, "reminder") if r.instance_id in reviews]
    assert sorted(r.instance_id for r in review_reminders) == sorted(reviews)  # exactly one each
    assert max(emails_per_task(db, "reminder").values()) == 1  # a raced-out acknowledgement sends none
    fired = [int((tmp_path / f"fired-{n}").read_text()) for n in range(3)]
    assert sum(fired) == INSTANCES + len(outbox_rows(db, "reminder")), fired  # BPMN timers + reminders
    print("timers fired per process:", fired)
    rows = outbox_rows(db)
    assert {r.status for r in rows} == {"sent"}
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert sorted(received) == sorted(r.message_id for r in rows) and set(received.values()) == {1}


def test_stale_claims_are_refused_after_the_lease_moved_on(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine, key="timer_race")
    clock.advance(days=2, seconds=1)
    slow, quick = make_worker(owner="slow"), make_worker(owner="quick")
    stale = slow.claim_timers()
    assert sorted(c.kind for c in stale) == [BPMN_TIMER, TASK_REMINDER]
    assert quick.claim_timers() == []  # leased: nobody else may take them
    clock.advance(seconds=61)  # the slow worker's lease ran out
    assert quick.drain().fired == 2
    assert [slow.fire(c) for c in stale] == ["skipped", "skipped"]  # no second firing
    assert fired_per_instance(db) == Counter({iid: 1})
    assert len(outbox_rows(db, "reminder")) == 1


def test_a_killed_worker_loses_its_lease_and_the_timer_fires_later_once(flows, engine, clock, make_worker, tmp_path):
    db = flows
    ids = [start(db, engine, key="timer_race") for _ in range(3)]
    with db.transaction() as s:  # only the BPMN timers matter here
        s.execute(Timer.__table__.delete().where(Timer.kind != BPMN_TIMER))
    now = clock.advance(days=2, seconds=1)
    marker = tmp_path / "firing"
    child = PROCESSES.Process(target=procs.hang_while_firing, args=(db.url, now.isoformat(), "doomed", 1, str(marker)))
    child.start()
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline and child.is_alive():
        time.sleep(0.05)
    assert marker.exists(), "the child never reached the middle of a firing"
    os.kill(child.pid, signal.SIGKILL)  # killed inside its transaction
    child.join(10)

    with db.reading() as s:
        timers = list(s.scalars(select(Timer).where(Timer.kind == BPMN_TIMER)))
    assert len(timers) == 3 and {t.lease_owner for t in timers} == {"doomed"}  # nothing committed but the claim
    assert fired_per_instance(db) == Counter()
    survivor = make_worker(owner="survivor")
    assert survivor.drain().fired == 0  # the dead worker's lease still holds
    clock.advance(seconds=61)
    assert survivor.drain().fired == 3
    assert fired_per_instance(db) == Counter(dict.fromkeys(ids, 1))
    assert late_tasks(db) == Counter(dict.fromkeys(ids, 1))
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Timer).where(Timer.kind == BPMN_TIMER)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "new_task")) == 6
    assert clock.now() - now < timedelta(minutes=2)


def test_a_stale_escalation_changes_nothing(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine)  # reminder_demo: escalation after 4 days reassigns the review
    clock.advance(days=4, seconds=1)
    slow, quick = make_worker(owner="slow"), make_worker(owner="quick")
    stale = slow.claim_timers()
    assert sorted(c.kind for c in stale) == [TASK_ESCALATION, TASK_REMINDER]
    clock.advance(seconds=61)
    taken = quick.claim_timers()  # the slow worker's lease ran out and the quick one took the timers over
    with db.reading() as s:
        version = s.get(ProcessInstance, iid).version
    assert [slow.fire(c) for c in stale] == ["skipped", "skipped"]
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).version == version  # the stale escalation's instance lock rolled back
    assert [quick.fire(c) for c in taken] == ["fired", "fired"]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "task_escalated")) == 1
    assert len(outbox_rows(db, "escalation")) == 1 and len(outbox_rows(db, "reminder")) == 1


def test_a_dead_worker_s_emails_are_sent_by_another_after_a_minute_once(flows, engine, clock, make_worker, smtp):
    """README: "a killed worker's leases expire after a minute" holds for email too (F18: it was 5 min)."""
    db = flows
    for _ in range(3):
        start(db, engine)
    doomed = make_worker(owner="doomed")
    claimed = doomed.sender.claim()  # leased, then the worker dies before sending anything
    assert len(claimed) >= 3
    survivor = make_worker(owner="survivor")
    assert survivor.drain().emails.sent == 0  # the lease still holds
    clock.advance(seconds=61)
    assert survivor.drain().emails.sent == len(claimed)
    assert len(smtp.messages) == len(claimed) == len({m["Message-ID"] for m in smtp.messages})
    assert {row.status for row in outbox_rows(db)} == {"sent"}
