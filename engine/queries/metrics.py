"""Operational health and Prometheus metrics, read from indexed tables only.

The metrics are gauges counted at scrape time by a `prometheus_client` collector; the library
writes the text exposition (escaping of label values included).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import Database
from engine.errors import SchemaOutOfDate, WaypointError
from engine.models import Incident, OutboxMessage, ProcessInstance, TaskRecord, Timer
from engine.worker.loop import last_heartbeat

HEARTBEAT_LIMIT = timedelta(minutes=2)


def health(db: Database, now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, checks): database reachable, migrations current, a worker seen recently."""
    checks: dict[str, Any] = {}
    try:
        db.check_schema()
        checks["database"] = "ok"
        checks["migrations"] = "current"
    except WaypointError as exc:
        checks["database"] = "ok" if isinstance(exc, SchemaOutOfDate) else str(exc)
        checks["migrations"] = str(exc)
        return False, checks
    with db.reading() as session:
        beat = last_heartbeat(session)
    fresh = beat is not None and now - beat <= HEARTBEAT_LIMIT
    checks["worker"] = {"last_heartbeat": beat.isoformat() if beat else None, "ok": fresh}
    return fresh, checks


class DatabaseGauges:
    """A `prometheus_client` collector: every metric is a gauge counted in the database at scrape time."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def collect(self) -> list[Metric]:
        with self._db.reading() as session:
            return gauges(session, self._clock.now())


def registry(db: Database, clock: Clock) -> CollectorRegistry:
    """A registry holding only Waypoint's database gauges (no process or platform collectors)."""
    collectors = CollectorRegistry()
    collectors.register(DatabaseGauges(db, clock))
    return collectors


def _gauge(name: str, help_text: str, labels: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> Metric:
    """A gauge with one sample per row: the label values, then the value."""
    family = GaugeMetricFamily(name, help_text, labels=labels)
    for *values, value in rows:
        family.add_metric([str(v) for v in values], value)
    return family


def gauges(session: Session, now: datetime) -> list[Metric]:
    """Open tasks by step, overdue tasks, running requests, outbox, incidents, timer lag, worker heartbeat."""
    open_rows = session.execute(
        select(TaskRecord.process_key, TaskRecord.name, func.count())
        .where(TaskRecord.status == "ready")
        .group_by(TaskRecord.process_key, TaskRecord.name)
    ).all()
    overdue = session.scalar(
        select(func.count()).select_from(TaskRecord).where(TaskRecord.status == "ready", TaskRecord.due_at < now)
    )
    running = session.execute(
        select(ProcessInstance.process_key, func.count())
        .where(ProcessInstance.status == "running")
        .group_by(ProcessInstance.process_key)
    ).all()
    outbox = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    incidents = session.scalar(select(func.count()).select_from(Incident).where(Incident.status == "open"))
    oldest_due = session.scalar(select(func.min(Timer.due_at)).where(Timer.due_at < now, Timer.failed_at.is_(None)))
    beat = last_heartbeat(session)
    return [
        _gauge("waypoint_open_tasks", "Open tasks by process and step.", ("process", "step"), open_rows),
        _gauge("waypoint_overdue_tasks", "Open tasks past their due time.", (), [(overdue or 0,)]),
        _gauge("waypoint_running_requests", "Running requests by process.", ("process",), running),
        _gauge("waypoint_outbox_messages", "Emails in the outbox by status.", ("status",), outbox),
        _gauge("waypoint_open_incidents", "Incidents waiting for an admin.", (), [(incidents or 0,)]),
        _gauge(
            "waypoint_timer_lag_seconds",
            "How late the most overdue unfired timer is.",
            (),
            [((now - oldest_due).total_seconds() if oldest_due else 0.0,)],
        ),
        _gauge(
            "waypoint_worker_heartbeat_age_seconds",
            "Seconds since a worker last finished a round.",
            (),
            [((now - beat).total_seconds() if beat else -1,)],
        ),
    ]
