"""Incidents: a timer, email or periodic job that ran out of retries, open until an admin retries it.

The worker opens them (timers, jobs), and so does the outbox sender (emails, through the function
the worker gives it): a timer or an email that fails counts its attempt and gives up through one
helper, `count_failure`. An incident on a request goes on the request's audit trail, opened and
retried, through the write path (engine/persist.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import locking
from engine.audit import SYSTEM_ACTOR
from engine.errors import ConcurrentUpdate, InvalidState, NotFound
from engine.mail import outbox
from engine.models import Incident, OutboxMessage, PeriodicJob, ProcessInstance, Timer

#: how often a lost race for the request's lock is tried again (the incident is written regardless
#: of the request's state, so re-reading the request is enough)
LOCK_TRIES = 3


def open_incident(session: Session, incident: Incident) -> Incident:
    """Record a timer, email or job that ran out of retries (on its request's audit trail, if any)."""
    session.add(incident)
    details = {"kind": incident.kind, "attempts": incident.attempts, "error": (incident.error or "")[:1000]}
    if incident.timer_kind:
        details["timer"] = incident.timer_kind
    _record(session, incident, incident.created_at, SYSTEM_ACTOR, "incident_opened", details)
    return incident


def count_failure(
    session: Session,
    row: Timer | OutboxMessage,
    error: str,
    now: datetime,
    *,
    max_attempts: int,
    permanent: bool = False,
    incident: Mapping[str, Any],
) -> bool:
    """Count a failed attempt of a leased timer or outbox email: one more attempt, its last error,
    the lease let go. True when the row gives up (`permanent`, or out of attempts): an incident is
    then opened on it (`incident` adds its kind, row ids and, if it differs, its `error`); the caller
    marks the row failed, or else sets when it is tried again."""
    row.attempts += 1
    row.last_error = error
    row.lease_owner, row.lease_until = None, None
    if not permanent and row.attempts < max_attempts:
        return False
    fields = {"error": error, **incident}
    open_incident(
        session,
        Incident(
            status="open",
            instance_id=row.instance_id,
            task_id=row.task_id,
            attempts=row.attempts,
            created_at=now,
            **fields,
        ),
    )
    return True


def job_failed(session: Session, name: str, error: str, now: datetime) -> Incident | None:
    """Open one incident for a failing periodic job (none while one is already open)."""
    open_one = select(Incident.id).where(Incident.kind == "job", Incident.status == "open", Incident.timer_kind == name)
    if session.scalar(open_one) is not None:
        return None
    return open_incident(
        session, Incident(kind="job", status="open", timer_kind=name, attempts=1, error=error, created_at=now)
    )


def retry_incident(session: Session, incident_id: int, actor: str, now: datetime) -> Incident:
    """Put the timer, email or job of an open incident back to work (admin action)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("no_such_incident", id=incident_id)
    if incident.status != "open":
        raise InvalidState("incident_not_open", id=incident_id, status=incident.status)
    if incident.kind == "email" and incident.outbox_id is not None:
        outbox.retry(session, incident.outbox_id, now)
    elif incident.kind == "job" and incident.timer_kind:
        job = session.get(PeriodicJob, incident.timer_kind)
        if job is not None:
            job.next_due_at = now
    elif incident.timer_id is not None:
        timer = session.get(Timer, incident.timer_id)
        if timer is not None:
            timer.failed_at, timer.attempts, timer.lease_owner, timer.lease_until = None, 0, None, None
    incident.status, incident.resolved_at, incident.resolved_by = "retried", now, actor
    _record(session, incident, now, actor, "incident_retried", {"incident": incident.id, "kind": incident.kind})
    return incident


def retry_email(session: Session, outbox_id: int, actor: str, now: datetime) -> None:
    """Queue a failed email again; through its open incident when it has one, which is then closed too."""
    open_one = select(Incident.id).where(Incident.outbox_id == outbox_id, Incident.status == "open").limit(1)
    incident_id = session.scalar(open_one)
    if incident_id is None:
        outbox.retry(session, outbox_id, now)
    else:
        retry_incident(session, incident_id, actor, now)


def open_incidents(session: Session, include_closed: bool = False) -> list[Incident]:
    """Incidents, newest first (open ones only unless `include_closed`)."""
    query = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
    if not include_closed:
        query = query.where(Incident.status == "open")
    return list(session.scalars(query))


def _record(session: Session, incident: Incident, at: datetime, actor: str, action: str, details: Any) -> None:
    instance = session.get(ProcessInstance, incident.instance_id) if incident.instance_id is not None else None
    if instance is None:
        session.flush()
        return
    for attempt in range(1, LOCK_TRIES + 1):
        try:
            locking.record_change(
                session, instance, at=at, actor=actor, action=action, task_id=incident.task_id, details=details
            )
            return
        except ConcurrentUpdate:
            if attempt == LOCK_TRIES:
                raise
            session.refresh(instance)
