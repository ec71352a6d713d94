"""The worker: fires due timers, sends the outbox, runs the periodic jobs; the truth lives in the database.

`Worker.tick()` does one round: claim due rows of `timers` under a lease (engine/leases.py),
fire each run of reminders in one transaction (engine/worker/reminders.py), each run of BPMN
timers of different requests in one (engine/worker/timer_batches.py) and each escalation alone,
run the daily digest and the retention purge when their `periodic_jobs` rows are due
(engine/worker/periodic.py), and deliver a batch of outbox mail.
`run_forever` asks APScheduler's `BlockingScheduler` to call the rounds on an interval trigger;
nothing is kept in its memory, so any number of workers on any number of machines may run, and
a restarted worker fires what fell due while it was down, once.

Exactly once, per timer kind (see docs/scheduler.md):

* `bpmn_timer`: `Engine.fire_timer` locks the instance (`UPDATE ... WHERE version = :v`) and
  deletes or moves the timer row in the same transaction; a second firing finds the row gone or
  loses the version check. A batch that fails or loses rolls back whole and each fires alone.
* `task_reminder` / `task_escalation`: the worker first re-takes its lease with a conditional
  UPDATE (`lease_owner = me AND due_at = claimed due`), which also row-locks the timer, then
  writes the emails and moves (reminder) or deletes (escalation) the row in that transaction.
  An escalation that reassigns the task locks the instance first, like every engine action:
  `notifications.fire_escalation` records the change, then asks for the lease.

A failure is retried with backoff (the lease expiry doubles as "not before"); after
`max_attempts` the timer is marked failed and becomes an incident on its instance
(engine/worker/incidents.py).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import leases
from engine.config import DirectorySettings, SmtpSettings
from engine.db import Database
from engine.errors import ConcurrentUpdate, DatabaseUnavailable, WaypointError
from engine.mail import notifications
from engine.mail.outbox import DeliveryReport, OutboxSender, backoff
from engine.models import PeriodicJob, Timer
from engine.runtime import Engine
from engine.taskindex import BPMN_TIMER, TASK_ESCALATION, TASK_REMINDER
from engine.worker import incidents, reminders, timer_batches
from engine.worker.periodic import DIGEST_JOB, NEW_YEAR_JOB, RETENTION_JOB, PeriodicJobs
from engine.worker.reminders import Claimed
from engine.worker.timer_batches import TimerNotFired

log = logging.getLogger("waypoint.worker")

HEARTBEAT_PREFIX = "heartbeat:"


def last_heartbeat(session: Session) -> datetime | None:
    """When any worker last finished a round (None: no worker ever ran)."""
    return session.scalar(
        select(func.max(PeriodicJob.last_run_at)).where(PeriodicJob.name.like(f"{HEARTBEAT_PREFIX}%"))
    )


def worker_name() -> str:
    """A name unique to this worker: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _StaleClaim(Exception):
    """Our lease on a timer was taken over: leave the timer to its new owner."""


@dataclass(frozen=True)
class WorkerSettings:
    """How much a worker takes at once, for how long, and how often it retries."""

    batch: int = 50
    #: BPMN timers fired in one transaction at most (on SQLite it holds the write lock from the
    #: first firing's version check to its commit)
    timer_batch: int = 10
    lease: timedelta = timedelta(seconds=60)
    max_timer_attempts: int = 5
    email_batch: int = 20
    #: as long as a timer's (README: "a killed worker's leases expire after a minute"); the sender
    #: renews it before each message and never makes it shorter than five SMTP timeouts
    email_lease: timedelta = timedelta(seconds=60)
    max_email_attempts: int = 12
    #: seconds between rounds in `run_forever`
    interval: float = 2.0


@dataclass
class TickReport:
    """What one round did."""

    fired: int = 0
    skipped: int = 0
    failed: int = 0
    emails: DeliveryReport = field(default_factory=DeliveryReport)
    digests: int = 0


class Worker:
    """One worker: claims and fires timers, delivers the outbox, runs periodic jobs."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        *,
        smtp: SmtpSettings | None = None,
        owner: str | None = None,
        settings: WorkerSettings | None = None,
        transport: Callable[[SmtpSettings], Any] | None = None,
        directory: DirectorySettings | None = None,
    ):
        self.db, self.engine, self.clock = db, engine, engine.clock
        self.owner = owner or worker_name()
        self.settings = settings or WorkerSettings()
        kwargs = {"transport": transport} if transport is not None else {}
        self.sender = OutboxSender(
            db,
            self.clock,
            smtp or SmtpSettings(),
            self.owner,
            batch=self.settings.email_batch,
            lease=self.settings.email_lease,
            max_attempts=self.settings.max_email_attempts,
            count_failure=incidents.count_failure,
            **kwargs,
        )
        self.periodic = PeriodicJobs(db, engine, self.owner, directory)

    # --- timers ---------------------------------------------------------------------------------
    def claim_timers(self, limit: int | None = None) -> list[Claimed]:
        """Lease up to `limit` due timers (oldest first) that nobody holds."""
        now = self.clock.now()
        with self.db.transaction() as session:
            rows = leases.claim(
                session,
                Timer,
                due=[Timer.due_at < now, Timer.failed_at.is_(None)],
                order_by=[Timer.due_at, Timer.id],
                owner=self.owner,
                now=now,
                lease=self.settings.lease,
                limit=limit or self.settings.batch,
                returning=[Timer.id, Timer.kind, Timer.instance_id, Timer.task_id, Timer.due_at],
            )
        claimed = [Claimed(r.id, r.kind, r.instance_id, r.task_id, _aware(r.due_at)) for r in rows]
        return sorted(claimed, key=lambda c: (c.due_at, c.id))

    def fire(self, claimed: Claimed) -> str:
        """Fire one leased timer in its own transaction: 'fired', 'skipped' or 'failed'."""
        try:
            with self.db.transaction() as session:
                outcome = self._fire_in(session, claimed)
        except _StaleClaim:  # another worker took the timer over after our lease ran out
            return "skipped"
        except ConcurrentUpdate:  # someone acted on the instance at the same moment: try again next round
            self._release(claimed)
            return "skipped"
        except DatabaseUnavailable:  # not the timer's fault: the lease runs out and it is retried
            log.warning("database unavailable while firing timer %s", claimed.id)
            return "skipped"
        except Exception as exc:
            self._record_failure(claimed, exc)
            return "failed"
        return outcome

    def _fire_in(self, session: Session, claimed: Claimed) -> str:
        now = self.clock.now()
        if claimed.kind == BPMN_TIMER:
            outcome = timer_batches.fire_in(self, session, claimed)
            timer_batches.release(session, [claimed.id], self.owner)
            return outcome
        if claimed.kind == TASK_ESCALATION:
            # the escalation locks the instance first when it reassigns, then asks for our lease
            sent = notifications.fire_escalation(
                session, self.engine.mail, claimed.id, now, lambda: self.hold(session, claimed, now)
            )
            if sent is None:
                raise _StaleClaim  # and roll back the instance lock the escalation may have taken
            return "fired"
        if not self.hold(session, claimed, now):
            raise _StaleClaim
        timer = session.get(Timer, claimed.id, populate_existing=True)
        assert timer is not None
        if claimed.kind == TASK_REMINDER:
            notifications.fire_reminder(session, self.engine.mail, timer, now)
        else:
            raise TimerNotFired("unknown_timer_kind", kind=claimed.kind)
        return "fired"

    def hold(self, session: Session, claimed: Claimed, now: datetime) -> bool:
        """Still our lease, and the timer unchanged since we claimed it? (Also row-locks it.)"""
        return leases.hold(
            session, Timer, claimed.id, self.owner, now + self.settings.lease, Timer.due_at == claimed.due_at
        )

    def _release(self, claimed: Claimed) -> None:
        try:
            with self.db.transaction() as session:
                leases.release(session, Timer, claimed.id, self.owner)
        except DatabaseUnavailable:
            log.warning("could not release timer %s; its lease will expire", claimed.id)

    def _record_failure(self, claimed: Claimed, exc: BaseException) -> None:
        """Count a failed attempt: retry after backoff, or mark failed with an incident."""
        error = str(exc) if isinstance(exc, WaypointError) else f"{type(exc).__name__}: {exc}"
        log.warning("timer %s (%s) on #%s failed: %s", claimed.id, claimed.kind, claimed.instance_id, error)
        try:
            with self.db.transaction() as session:
                self._failure_in(session, claimed, error[:2000])
        except ConcurrentUpdate:  # the request kept changing: the lease runs out and the failure comes back
            log.warning("could not record the failure of timer %s; it comes back", claimed.id)

    def _failure_in(self, session: Session, claimed: Claimed, error: str) -> None:
        now = self.clock.now()
        timer = session.get(Timer, claimed.id)
        if timer is None or timer.lease_owner != self.owner:
            return
        gave_up = incidents.count_failure(
            session,
            timer,
            error,
            now,
            max_attempts=self.settings.max_timer_attempts,
            incident=dict(kind="timer", timer_id=timer.id, timer_kind=timer.kind),
        )
        if gave_up:
            timer.failed_at = now
        else:
            timer.lease_until = now + backoff(timer.attempts)  # "not before": the claim skips it until then

    def run_timers(self) -> tuple[int, int, int]:
        """Claim one batch of due timers and fire them, oldest first: (fired, skipped, failed).

        Each run of consecutive reminders shares one transaction (engine/worker/reminders.py), and
        so does each run of BPMN timers of different requests (engine/worker/timer_batches.py); an
        escalation, which may lock its instance, is fired alone."""
        counts = {"fired": 0, "skipped": 0, "failed": 0}
        for kind, run in itertools.groupby(self.claim_timers(), key=lambda claimed: claimed.kind):
            batch = list(run)
            if kind == TASK_REMINDER:
                outcomes = reminders.fire_reminders(self, batch)
            elif kind == BPMN_TIMER:
                outcomes = timer_batches.fire_bpmn_timers(self, batch, self.settings.timer_batch)
            else:
                outcomes = [self.fire(claimed) for claimed in batch]
            for outcome in outcomes:
                counts[outcome] += 1
        return counts["fired"], counts["skipped"], counts["failed"]

    # --- periodic jobs --------------------------------------------------------------------------
    def run_periodic(self) -> int:
        """The daily digest, when its time has come (one worker wins each day); returns emails queued."""
        return self.periodic.run(DIGEST_JOB)

    def run_retention(self) -> int:
        """The daily retention purge, when its time has come (one worker); returns requests purged."""
        return self.periodic.run(RETENTION_JOB)

    # --- one round ------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One round: timers until none is due (bounded), one outbox batch, periodic jobs."""
        report = TickReport()
        for _ in range(20):  # bounded, so mail still goes out while a backlog of timers drains
            fired, skipped, failed = self.run_timers()
            report.fired += fired
            report.skipped += skipped
            report.failed += failed
            if fired + skipped + failed < self.settings.batch:
                break
        report.digests = self.run_periodic()
        self.run_retention()
        self.periodic.run(NEW_YEAR_JOB)
        self.periodic.run_directory_sync()
        report.emails = self.sender.deliver_once()
        self.beat()
        return report

    def beat(self) -> None:
        """Record that this worker is alive (read by /healthz and /metrics)."""
        now, name = self.clock.now(), f"{HEARTBEAT_PREFIX}{self.owner}"[:40]
        with self.db.transaction() as session:
            job = session.get(PeriodicJob, name)
            if job is None:
                session.add(PeriodicJob(name=name, next_due_at=now, last_run_at=now, last_owner=self.owner))
            else:
                job.last_run_at = job.next_due_at = now

    def drain(self, rounds: int = 50) -> TickReport:
        """Tick until nothing is left to do now (tests, `waypoint worker --once`)."""
        total = TickReport()
        for _ in range(rounds):
            report = self.tick()
            total.fired += report.fired
            total.skipped += report.skipped
            total.failed += report.failed
            total.digests += report.digests
            total.emails.sent += report.emails.sent
            total.emails.retrying += report.emails.retrying
            total.emails.failed += report.emails.failed
            if not (report.fired or report.skipped or report.failed or report.emails.sent or report.digests):
                break
        return total


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- the long-running worker ---------------------------------------------------------------------
def run_forever(worker: Worker, stop: threading.Event | None = None) -> None:
    """Tick every `worker.settings.interval` seconds with APScheduler until stopped (SIGINT/SIGTERM)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")

    def safe_tick() -> None:
        try:
            report = worker.tick()
        except DatabaseUnavailable as exc:
            log.warning("worker round skipped: %s", exc)
            return
        except Exception:  # one bad round must not kill the worker
            log.exception("worker round failed")
            return
        if report.fired or report.failed or report.emails.sent or report.emails.retrying or report.digests:
            log.info(
                "fired %s timer(s), %s failed; sent %s email(s), %s to retry, %s failed; %s digest(s)",
                report.fired,
                report.failed,
                report.emails.sent,
                report.emails.retrying,
                report.emails.failed,
                report.digests,
            )

    scheduler.add_job(
        safe_tick,
        "interval",
        seconds=worker.settings.interval,
        id="waypoint-tick",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now().astimezone(),  # first round at once (APScheduler's own clock)
    )
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
