"""BPMN timers fired in batches: one transaction for a run of claimed timers of different requests.

Each timer is still a full engine action (`Engine.fire_timer`: read, fire, run, save through the
one write path, its version check the instance lock), so one winner per timer holds as alone;
a batch only shares what firing one at a time repeats: the transaction and its commit, the
definitions and people the session already holds, and the leases given back in one statement.
The batch's transaction begins with the first firing's optimistic read (nothing is written
before it). The later firings read in a transaction that wrote: on SQLite under the write lock
the first version check took, held to the batch's commit (they cannot lose;
`WorkerSettings.timer_batch` bounds how long), on PostgreSQL without a lock but without a retry
(engine/locking.py: a lost version check there rolls the batch back like a failure).

If any firing fails (a script error, a lost version check), the batch rolls back, nothing of it
written, and each timer is fired alone (`Worker.fire`): a failure is counted for its timer only,
the others commit, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.errors import DatabaseUnavailable, WaypointError
from engine.models import Timer
from engine.worker.reminders import Claimed

if TYPE_CHECKING:
    from engine.db import Database
    from engine.runtime import Engine

log = logging.getLogger("waypoint.worker")


class TimerNotFired(WaypointError):
    """A due timer that could not be fired (counted as a failed attempt)."""

    status = 500
    kind = "timer_not_fired"


class Worker(Protocol):
    """What firing BPMN timers needs of the worker (engine/worker/loop.py)."""

    db: Database
    engine: Engine
    owner: str

    def fire(self, claimed: Claimed) -> str: ...


def fire_bpmn_timers(worker: Worker, batch: Sequence[Claimed], size: int) -> list[str]:
    """Fire these claimed BPMN timers, `size` at most in a transaction and one per request in each:
    one outcome per timer, 'fired', 'skipped' or 'failed'."""
    return [outcome for run in runs(batch, size) for outcome in _fire_run(worker, run)]


def runs(batch: Sequence[Claimed], size: int) -> Iterator[list[Claimed]]:
    """The batch cut in order into runs of at most `size` timers of different requests."""
    run: list[Claimed] = []
    for claimed in batch:
        if len(run) >= size or any(c.instance_id == claimed.instance_id for c in run):
            yield run
            run = []
        run.append(claimed)
    if run:
        yield run


def _fire_run(worker: Worker, run: list[Claimed]) -> list[str]:
    if len(run) < 2:
        return [worker.fire(claimed) for claimed in run]
    # requests locked in the order of their ids, as every batch does: two workers' batches never
    # wait on each other's requests in a cycle (PostgreSQL would abort one)
    run = sorted(run, key=lambda claimed: claimed.instance_id)
    try:
        with worker.db.transaction() as session:
            outcomes = [fire_in(worker, session, claimed) for claimed in run]
            release(session, [claimed.id for claimed in run], worker.owner)
            return outcomes
    except DatabaseUnavailable:  # not the timers' fault: their leases run out and they are retried
        log.warning("database unavailable while firing %s timers", len(run))
        return ["skipped"] * len(run)
    except Exception:  # one of them failed or lost a race: find which, and let the others commit
        log.info("a batch of %s timers failed; firing each alone", len(run), exc_info=True)
        return [worker.fire(claimed) for claimed in run]


def fire_in(worker: Worker, session: Session, claimed: Claimed) -> str:
    """Fire one claimed BPMN timer in the caller's transaction: 'fired' or 'skipped' (the caller
    gives the lease back), or TimerNotFired. The instance lock inside `fire_timer` is what makes
    a BPMN timer fire once."""
    if worker.engine.fire_timer(session, claimed.id):
        return "fired"
    timer = session.get(Timer, claimed.id)
    now = worker.engine.clock.now()
    if timer is None or timer.lease_owner != worker.owner or timer.due_at >= now:
        return "skipped"
    raise TimerNotFired("timer_not_due")


def release(session: Session, timer_ids: list[int], owner: str) -> None:
    """Give back our leases on these timers (those a firing did not delete or move)."""
    session.execute(
        update(Timer)
        .where(Timer.id.in_(timer_ids), Timer.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
