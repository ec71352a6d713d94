"""Operational health and Prometheus metrics, read from indexed tables only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import Database
from engine.errors import WaypointError
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
        checks["database"] = "ok" if "schema" in str(exc) else str(exc)
        checks["migrations"] = str(exc)
        return False, checks
    with db.reading() as session:
        beat = last_heartbeat(session)
    fresh = beat is not None and now - beat <= HEARTBEAT_LIMIT
    checks["worker"] = {"last_heartbeat": beat.isoformat() if beat else None, "ok": fresh}
    return fresh, checks


def _line(name: str, value: float, labels: dict[str, Any] | None = None) -> str:
    if labels:
        inner = ",".join(
            f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
            for k, v in labels.items()
        )
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def prometheus(session: Session, now: datetime) -> str:
    """The metrics in Prometheus text format 0.0.4."""
    out: list[str] = []

    def metric(name: str, help_text: str, kind: str, rows: list[tuple[dict[str, Any] | None, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(_line(name, value, labels) for labels, value in rows)

    open_rows = session.execute(
        select(TaskRecord.process_key, TaskRecord.name, func.count())
        .where(TaskRecord.status == "ready")
        .group_by(TaskRecord.process_key, TaskRecord.name)
    ).all()
    metric(
        "waypoint_open_tasks",
        "Open tasks by process and step.",
        "gauge",
        [({"process": k, "step": n}, c) for k, n, c in open_rows],
    )
    overdue = session.scalar(
        select(func.count()).select_from(TaskRecord).where(TaskRecord.status == "ready", TaskRecord.due_at < now)
    )
    metric("waypoint_overdue_tasks", "Open tasks past their due time.", "gauge", [(None, overdue or 0)])
    running = session.execute(
        select(ProcessInstance.process_key, func.count())
        .where(ProcessInstance.status == "running")
        .group_by(ProcessInstance.process_key)
    ).all()
    metric(
        "waypoint_running_requests", "Running requests by process.", "gauge", [({"process": k}, c) for k, c in running]
    )
    outbox = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    metric(
        "waypoint_outbox_messages",
        "Emails in the outbox by status.",
        "gauge",
        [({"status": st}, c) for st, c in outbox],
    )
    incidents = session.scalar(select(func.count()).select_from(Incident).where(Incident.status == "open"))
    metric("waypoint_open_incidents", "Incidents waiting for an admin.", "gauge", [(None, incidents or 0)])
    oldest_due = session.scalar(select(func.min(Timer.due_at)).where(Timer.due_at < now, Timer.failed_at.is_(None)))
    lag = (now - oldest_due).total_seconds() if oldest_due else 0.0
    metric("waypoint_timer_lag_seconds", "How late the most overdue unfired timer is.", "gauge", [(None, lag)])
    beat = last_heartbeat(session)
    metric(
        "waypoint_worker_heartbeat_age_seconds",
        "Seconds since a worker last finished a round.",
        "gauge",
        [(None, (now - beat).total_seconds() if beat else -1)],
    )
    return "\n".join(out) + "\n"
