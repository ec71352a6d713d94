"""The worker's periodic jobs: the daily digest and the retention purge, each run once per time.

APScheduler's cron triggers say when each job is due (office time, daylight saving included);
its `periodic_jobs` row says whether it is due now and which worker runs it, so any number of
workers may tick. Taking a job moves its row JOB_LEASE ahead (a run that crashed or failed is
taken up again after it); the work moves the row to the trigger's next time in its last
transaction (the digests and the move commit together). A failure opens an incident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import summary_lines
from engine.config import DirectorySettings
from engine.db import Database
from engine.errors import DatabaseUnavailable
from engine.identity import directory as directory_sync
from engine.models import PeriodicJob
from engine.privacy import records as privacy_records
from engine.runtime import Engine
from engine.worker import digest, incidents

log = logging.getLogger("waypoint.worker")

DIGEST_JOB = "daily_digest"
RETENTION_JOB = "retention"
#: summary lines of requests dated last year get their year (engine/summary_lines.py)
NEW_YEAR_JOB = "new_year_summaries"
#: the LDAP / Active Directory sync, at the times of WAYPOINT_LDAP_SYNC_CRON (when a directory is configured)
DIRECTORY_JOB = "directory_sync"
#: the retention purge runs daily at this hour, office time (a quiet one)
RETENTION_HOUR = 2
#: how long a worker holds a periodic job it took: past it, a crashed or failed run is tried again
JOB_LEASE = timedelta(minutes=15)

#: a periodic job's work: given `finish(session)`, which moves the job to its next time in the
#: work's last transaction, and the time it was taken; returns how much it did
JobWork = Callable[[Callable[[Session], None], datetime], int]


class _LostJob(Exception):
    """A periodic job ran past its lease and another worker took it over: leave it to that one."""


class PeriodicJobs:
    """The periodic jobs of one worker (`owner`), each run by one worker per due time."""

    def __init__(self, db: Database, engine: Engine, owner: str, directory: DirectorySettings | None = None):
        self.db, self.engine, self.owner = db, engine, owner
        self.directory = directory or DirectorySettings()

    def _jobs(self) -> dict[str, tuple[CronTrigger, JobWork]]:
        """The periodic jobs: name → (APScheduler cron trigger of its times, its work)."""
        mail = self.engine.mail.config
        jobs: dict[str, tuple[CronTrigger, JobWork]] = {
            DIGEST_JOB: (CronTrigger(hour=mail.digest_hour, timezone=ZoneInfo(mail.timezone)), self._digest),
            RETENTION_JOB: (CronTrigger(hour=RETENTION_HOUR, timezone=self.engine.office_tz), self._retention),
            NEW_YEAR_JOB: (
                CronTrigger(month=1, day=1, hour=0, minute=30, timezone=self.engine.office_tz),
                self._new_year,
            ),
        }
        if self.directory.enabled and self.directory.sync_cron:
            trigger = CronTrigger.from_crontab(self.directory.sync_cron, timezone=self.engine.office_tz)
            jobs[DIRECTORY_JOB] = (trigger, self._directory_sync)
        return jobs

    def run_directory_sync(self) -> int:
        """The directory sync when a directory is configured and its time has come; returns changes made."""
        return self.run(DIRECTORY_JOB) if DIRECTORY_JOB in self._jobs() else 0

    def run(self, name: str) -> int:
        """Run periodic job `name` if this worker takes its due time: take the row, work, move it on.

        The `periodic_jobs` row makes each time run once across workers: taking it moves it
        JOB_LEASE ahead, and the work moves it to the trigger's next time in its last transaction.
        A failure is tried again when the lease runs out, and opens an incident."""
        trigger, work = self._jobs()[name]
        now = self.engine.clock.now()
        if not self._take(name, trigger, now):
            return 0
        try:
            return work(lambda session: self._finish(session, name, trigger, now), now)
        except _LostJob:  # it ran past its lease and another worker took it over
            return 0
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # its last transaction rolled back: tell the admins
            log.exception("periodic job %s failed", name)
            with self.db.transaction() as session:
                incidents.job_failed(session, name, f"{name}: {type(exc).__name__}: {exc}"[:2000], now)
            return 0

    def _take(self, name: str, trigger: CronTrigger, now: datetime) -> bool:
        """Whether this worker won the job's due time (the first round ever only creates the row)."""
        try:
            with self.db.transaction() as session:
                job = session.get(PeriodicJob, name)
                if job is None:
                    session.add(PeriodicJob(name=name, next_due_at=_next_time(trigger, now)))
                    return False
                if job.next_due_at > now:
                    return False
                taken = session.execute(
                    update(PeriodicJob)
                    .where(PeriodicJob.name == name, PeriodicJob.next_due_at == job.next_due_at)
                    .values(next_due_at=now + JOB_LEASE, last_run_at=now, last_owner=self.owner)
                    .execution_options(synchronize_session=False)
                )
                return cast(CursorResult[Any], taken).rowcount == 1  # an UPDATE's result is a cursor result
        except IntegrityError:  # another worker created the row at the same moment
            return False

    def _finish(self, session: Session, name: str, trigger: CronTrigger, taken_at: datetime) -> None:
        """Move the job we took at `taken_at` to its next time; _LostJob when it is no longer ours."""
        moved = session.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == name, PeriodicJob.last_owner == self.owner, PeriodicJob.last_run_at == taken_at)
            .values(next_due_at=_next_time(trigger, taken_at))
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], moved).rowcount != 1:
            raise _LostJob

    def _digest(self, finish: Callable[[Session], None], now: datetime) -> int:
        with self.db.transaction() as session:
            finish(session)  # the digests and the job's next time commit together
            return digest.send_digests(session, self.engine.mail, now)

    def _retention(self, finish: Callable[[Session], None], now: datetime) -> int:
        purged = privacy_records.run_retention(self.db, self.engine)  # one transaction per request
        with self.db.transaction() as session:
            finish(session)
        return len(purged)

    def _new_year(self, finish: Callable[[Session], None], now: datetime) -> int:
        changed = summary_lines.rewrite_for_new_year(self.db, self.engine, now)  # a transaction per batch
        with self.db.transaction() as session:
            finish(session)
        return changed

    def _directory_sync(self, finish: Callable[[Session], None], now: datetime) -> int:
        report = directory_sync.run(self.db, self.directory, now, self.engine.mail.config)  # one transaction
        with self.db.transaction() as session:
            finish(session)
        return report.changes


def _next_time(trigger: CronTrigger, after: datetime) -> datetime:
    """The trigger's first time strictly after `after` (APScheduler's cron rules, time zone and DST)."""
    moment = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    assert moment is not None  # a daily cron trigger always has a next time
    return moment.astimezone(UTC)
