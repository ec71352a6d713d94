"""Reminders fire in batches: one transaction for a run of them, and a failing one costs the others nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from engine.mail import notifications
from engine.models import Timer
from engine.taskindex import TASK_REMINDER
from tests.scheduler.conftest import outbox_rows, start

REQUESTERS = ("jdoe", "rmartin", "fchan", "ebrown", "ppatel")  # five reviews, five reminders due in two days


def reminders(db) -> dict[str, Timer]:
    with db.reading() as s:
        return {t.task_id: t for t in s.scalars(select(Timer).where(Timer.kind == TASK_REMINDER))}


def test_a_run_of_reminders_is_one_transaction(flows, engine, clock, make_worker):
    db = flows
    for user in REQUESTERS:
        start(db, engine, user=user)
    before = reminders(db)
    clock.advance(days=2, seconds=1)
    commits: list[object] = []

    def count(connection) -> None:
        commits.append(connection)

    event.listen(db.engine, "commit", count)
    try:
        assert make_worker().run_timers() == (len(REQUESTERS), 0, 0)
    finally:
        event.remove(db.engine, "commit", count)
    assert len(commits) == 2  # the claim, then the five reminders
    assert len(outbox_rows(db, "reminder")) == len(REQUESTERS)
    after = reminders(db)
    assert all(after[t].due_at == before[t].due_at + timedelta(days=1) and after[t].lease_owner is None for t in after)


def test_a_failing_reminder_is_counted_alone_and_the_others_commit(flows, engine, clock, make_worker, monkeypatch):
    db = flows
    for user in REQUESTERS:
        start(db, engine, user=user)
    before = reminders(db)
    failing = sorted(before)[2]
    fire = notifications.fire_reminder

    def fire_or_fail(session, mail, timer, now):
        if timer.task_id == failing:
            raise RuntimeError("template exploded")
        return fire(session, mail, timer, now)

    monkeypatch.setattr(notifications, "fire_reminder", fire_or_fail)
    clock.advance(days=2, seconds=1)
    assert make_worker(owner="w").run_timers() == (len(REQUESTERS) - 1, 0, 1)
    after = reminders(db)
    bad = after.pop(failing)
    assert (bad.attempts, bad.due_at, bad.lease_owner) == (1, before[failing].due_at, None)
    assert "template exploded" in bad.last_error and bad.lease_until > clock.now()  # backing off
    assert all(t.due_at == before[t.task_id].due_at + timedelta(days=1) and t.attempts == 0 for t in after.values())
    assert sorted(r.task_id for r in outbox_rows(db, "reminder")) == sorted(after)
