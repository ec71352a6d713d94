"""Periodic jobs: APScheduler cron triggers say when (office time), the `periodic_jobs` row says who
and whether now; the retention purge runs once across workers, and a crashed run is taken up again."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from engine.models import AuditEvent, PeriodicJob, ProcessInstance
from tests.scheduler.conftest import start

TORONTO = ZoneInfo("America/Toronto")


def job(db, name: str) -> PeriodicJob:
    with db.reading() as s:
        return s.get(PeriodicJob, name)


def test_retention_runs_at_two_in_the_morning_once_across_workers(flows, engine, clock, make_worker):
    db = flows
    engine.glue.process("small_approval", retention="P1D")
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Laptop", "amount": 100}, "jdoe").id
        engine.cancel(s, iid, "jdoe", "changed my mind")
    first, second = make_worker(owner="first"), make_worker(owner="second")
    first.drain()  # the first round creates the rows at their next times
    due = job(db, "retention").next_due_at
    assert due > clock.now() and due.astimezone(TORONTO).hour == 2
    assert job(db, "daily_digest").next_due_at.astimezone(TORONTO).hour == 7

    clock.set(due + timedelta(days=1, minutes=1))  # past 02:00, and the request's day has run out
    first.drain()
    second.drain()
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).purged_at is not None
        purges = s.scalars(select(AuditEvent).where(AuditEvent.action == "personal_data_purged")).all()
    assert len(purges) == 1
    row = job(db, "retention")
    assert row.last_owner == "first" and row.next_due_at > clock.now()
    assert row.next_due_at.astimezone(TORONTO).hour == 2 and row.next_due_at - clock.now() < timedelta(days=1)


def test_a_periodic_job_held_by_a_dead_worker_is_taken_up_after_its_lease(flows, engine, clock, make_worker):
    db = flows
    start(db, engine)  # msmith has waiting work: a digest to send
    worker = make_worker(owner="alive")
    worker.drain()
    clock.set(job(db, "daily_digest").next_due_at + timedelta(minutes=1))
    with db.transaction() as s:  # a worker took the digest, then died before its work committed
        s.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == "daily_digest")
            .values(next_due_at=clock.now() + timedelta(minutes=15), last_run_at=clock.now(), last_owner="dead")
        )
    assert worker.drain().digests == 0  # held
    clock.advance(minutes=16)
    assert worker.drain().digests == 1  # the lease ran out: taken up, once
    assert worker.drain().digests == 0
    row = job(db, "daily_digest")
    assert row.last_owner == "alive" and row.next_due_at.astimezone(TORONTO).hour == 7


def test_at_new_year_last_year_s_summary_lines_get_their_year(flows, engine, clock, make_worker):
    """A line written in 2026 leaves out 2026 ("4 Nov"); on 1 January 2027 the worker writes it again."""
    from datetime import UTC, datetime

    from workflows.common import format_date_range

    db = flows
    clock.set(datetime(2026, 12, 20, 15, 0, tzinfo=UTC))
    engine.glue.process(
        "small_approval",
        summary=lambda d, lang: format_date_range(d["title"], None, language=lang),
        facets=lambda d: {"starts_on": d["title"]},
    )
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "2026-11-04", "amount": 100}, "jdoe").id
        later = engine.start(s, "small_approval", {"title": "2027-03-08", "amount": 100}, "jdoe").id
    assert lines(db, iid) == ("4 Nov", "4 nov.") and lines(db, later) == ("8 Mar 2027", "8 mars 2027")
    make_worker().drain()  # the first round creates the job's row: just after midnight on 1 January
    due = job(db, "new_year_summaries").next_due_at
    assert due.astimezone(TORONTO).timetuple()[:5] == (2027, 1, 1, 0, 30)
    clock.set(due + timedelta(minutes=1))
    make_worker().drain()
    assert lines(db, iid) == ("4 Nov 2026", "4 nov. 2026") and lines(db, later) == ("8 Mar", "8 mars")
    assert job(db, "new_year_summaries").next_due_at.astimezone(TORONTO).year == 2028


def lines(db, instance_id: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A request's summary line in English and in French."""
    with db.reading() as s:
        instance = s.get_one(ProcessInstance, instance_id)
        return instance.summary, instance.summary_fr
