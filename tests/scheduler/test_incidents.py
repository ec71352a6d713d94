"""A timer that keeps failing: retries with backoff, then an incident on its instance that an admin retries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.models import AuditEvent, Incident, Timer
from engine.worker.incidents import open_incidents, retry_incident
from tests.scheduler.conftest import start


def the_timer(db) -> Timer:
    with db.reading() as s:
        return s.scalars(select(Timer)).one()


def test_failing_timer_backs_off_then_becomes_an_incident(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine, key="failing_timer", title="not a number")  # the script after the timer fails
    worker = make_worker(max_timer_attempts=4)
    clock.advance(hours=1, seconds=1)
    waits = []
    for attempt in range(1, 5):
        report = worker.drain()
        assert (report.fired, report.failed) == (0, 1)
        timer = the_timer(db)
        assert timer.attempts == attempt and "int()" in timer.last_error
        if attempt < 4:
            waits.append((timer.lease_until - clock.now()).total_seconds())
            assert worker.drain().failed == 0  # not before its backoff
            clock.set(timer.lease_until + timedelta(seconds=1))
    assert waits == [30, 60, 120]

    timer = the_timer(db)
    assert timer.failed_at is not None and timer.lease_until is None
    with db.reading() as s:
        [incident] = open_incidents(s)
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "incident_opened")).one()
    assert (incident.kind, incident.instance_id, incident.timer_kind, incident.attempts) == (
        "timer",
        iid,
        "bpmn_timer",
        4,
    )
    assert "Compute" in incident.error and audit.instance_id == iid and audit.details["attempts"] == 4
    clock.advance(days=1)
    assert worker.drain().failed == 0  # a failed timer waits for a person

    with db.transaction() as s:
        retry_incident(s, incident.id, "admin", clock.now())
    assert the_timer(db).failed_at is None
    assert worker.drain().failed == 1  # tried again (and, with the same bad data, fails again)
    with db.reading() as s:
        assert s.get(Incident, incident.id).status == "retried"
        retried = s.scalars(select(AuditEvent).where(AuditEvent.action == "incident_retried")).one()
    assert retried.actor == "admin"


def test_a_failing_digest_backs_off_and_opens_one_incident(flows, engine, clock, make_worker, monkeypatch):
    from engine.models import PeriodicJob
    from engine.worker import digest

    db = flows
    start(db, engine, key="timer_race")
    worker = make_worker()
    worker.drain()  # creates the digest's row
    with db.reading() as s:
        due = s.get(PeriodicJob, "daily_digest").next_due_at
    clock.set(due + timedelta(seconds=1))

    def broken(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(digest, "send_digests", broken)
    for _ in range(2):
        assert worker.run_periodic() == 0
        with db.reading() as s:
            assert s.get(PeriodicJob, "daily_digest").next_due_at == clock.now() + timedelta(minutes=15)
        clock.advance(minutes=16)
    with db.reading() as s:
        [incident] = open_incidents(s)
    assert (incident.kind, incident.timer_kind) == ("job", "daily_digest") and "template exploded" in incident.error

    monkeypatch.undo()
    with db.transaction() as s:
        retry_incident(s, incident.id, "admin", clock.now())
    assert worker.run_periodic() == 1
