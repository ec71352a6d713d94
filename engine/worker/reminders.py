"""Task reminders fired in batches: one transaction for a run of claimed reminders, a failure kept to its own.

A reminder queues emails and moves its timer; it never locks its instance, so a run of claimed
reminders shares one transaction: the leases re-taken (each still ours and unchanged, as
`Worker.fire` checks, which also row-locks it), the tasks with their requests (never the
workflow state), the timers and the people each read once for the whole batch, then every
reminder through `notifications.fire_reminder` and one commit. A reminder whose lease moved on
is left out, as alone. If any reminder fails, the batch rolls back and each is fired alone
(`Worker.fire`): the failure is counted for that timer only, the others commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, joinedload, lazyload

from engine.errors import DatabaseUnavailable
from engine.mail import notifications
from engine.models import ProcessInstance, TaskRecord, Timer, User

if TYPE_CHECKING:
    from engine.db import Database
    from engine.runtime import Engine

log = logging.getLogger("waypoint.worker")


@dataclass(frozen=True)
class Claimed:
    """A timer this worker leased: enough to check, when firing, that it is still ours and unchanged."""

    id: int
    kind: str
    instance_id: int
    task_id: str
    due_at: datetime


class Worker(Protocol):
    """What firing reminders needs of the worker (engine/worker/loop.py)."""

    db: Database
    engine: Engine

    def fire(self, claimed: Claimed) -> str: ...

    def hold(self, session: Session, claimed: Claimed, now: datetime) -> bool: ...


def fire_reminders(worker: Worker, batch: list[Claimed]) -> list[str]:
    """Fire these claimed reminders in one transaction: 'fired' or 'skipped' each, in order (or, after
    a failure, what firing each alone gave)."""
    if len(batch) < 2:
        return [worker.fire(claimed) for claimed in batch]
    try:
        with worker.db.transaction() as session:
            return _fire_in(worker, session, batch)
    except DatabaseUnavailable:  # not the timers' fault: their leases run out and they are retried
        log.warning("database unavailable while firing %s reminders", len(batch))
        return ["skipped"] * len(batch)
    except Exception:  # one of them failed: find which, and let the others commit
        log.info("a batch of %s reminders failed; firing each alone", len(batch), exc_info=True)
        return [worker.fire(claimed) for claimed in batch]


def _fire_in(worker: Worker, session: Session, batch: list[Claimed]) -> list[str]:
    now = worker.engine.clock.now()
    held = [claimed for claimed in batch if worker.hold(session, claimed, now)]
    read = _read_tasks(session, [claimed.task_id for claimed in held])  # kept: the session holds rows weakly
    timers = {
        timer.id: timer
        for timer in session.scalars(
            select(Timer)
            .where(Timer.id.in_([claimed.id for claimed in held]))
            .execution_options(populate_existing=True)
        )
    }
    for claimed in held:
        notifications.fire_reminder(session, worker.engine.mail, timers[claimed.id], now)
    fired = {claimed.id for claimed in held}
    del read
    return ["fired" if claimed.id in fired else "skipped" for claimed in batch]


def _read_tasks(session: Session, task_ids: list[str]) -> list[object]:
    """Read the tasks, their requests (without workflow state) and process versions, and their
    people into the session, once: what `fire_reminder` then looks up is found there. Returns
    them, for the caller to keep while it works (the session forgets rows nobody refers to)."""
    rows = session.scalars(
        select(TaskRecord)
        .options(
            joinedload(TaskRecord.instance).options(defer(ProcessInstance.data)).joinedload(ProcessInstance.definition)
        )
        .where(TaskRecord.id.in_(task_ids))
    ).all()
    ids = {r.claimed_by_id or r.assignee_id for r in rows} | {r.instance.started_by_id for r in rows}
    people = session.scalars(select(User).options(lazyload(User.role_rows)).where(User.id.in_(ids - {None}))).all()
    return [*rows, *people]
