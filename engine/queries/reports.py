"""Office reports: where approvals are stuck and for how long, throughput, time per step, outcomes.

Every query reads the task index, the instance rows (status, outcome, timestamps) and the
audit trail's indexed columns; nothing deserializes a workflow. Percentiles are computed in
Python over the rows of the chosen period, which the filters bound.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User

REJECTED_WORDS = ("reject", "refus", "not cleared", "no member cleared")


@dataclass
class ReportFilter:
    """Which requests a report covers."""

    process: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    country: str | None = None
    unit: str | None = None

    def instance_conditions(self) -> list[Any]:
        out = []
        if self.process:
            out.append(ProcessInstance.process_key == self.process)
        if self.country:
            out.append(ProcessInstance.country == self.country)
        if self.unit:
            out.append(ProcessInstance.unit == self.unit)
        return out


def outcome_class(status: str, outcome: str | None) -> str:
    """approved / rejected / cancelled / running, from an instance's status and end event name."""
    if status == "running":
        return "running"
    if status == "cancelled":
        return "cancelled"
    text = (outcome or "").lower()
    return "rejected" if any(w in text for w in REJECTED_WORDS) else "approved"


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def open_by_step(session: Session, flt: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Open tasks per process and step: how many, how many overdue, the oldest and median waits."""
    query = (
        select(
            TaskRecord.process_key,
            ProcessDefinition.name,
            TaskRecord.name,
            TaskRecord.role,
            TaskRecord.created_at,
            TaskRecord.due_at,
        )
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(TaskRecord.status == "ready", *flt.instance_conditions())
    )
    groups: dict[tuple, list] = defaultdict(list)
    for key, pname, step, role, created, due in session.execute(query):
        groups[(key, pname, step, role)].append((created, due))
    rows = []
    for (key, pname, step, role), items in groups.items():
        waits = [(now - created).total_seconds() / 86400 for created, _ in items]
        rows.append(
            {
                "process_key": key,
                "process": pname,
                "step": step,
                "role": role,
                "open": len(items),
                "overdue": sum(1 for _, due in items if due is not None and due < now),
                "oldest_days": round(max(waits), 1),
                "median_days": round(statistics.median(waits), 1),
            }
        )
    return sorted(rows, key=lambda r: (-r["overdue"], -r["oldest_days"]))


def overdue_tasks(session: Session, flt: ReportFilter, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Overdue open tasks, most overdue first, with who holds them."""
    holder = aliased(User)
    query = (
        select(
            TaskRecord, ProcessInstance.summary, ProcessInstance.summary_fr, ProcessDefinition.name, holder.display_name
        )
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .outerjoin(holder, holder.id == func.coalesce(TaskRecord.claimed_by_id, TaskRecord.assignee_id))
        .where(TaskRecord.status == "ready", TaskRecord.due_at < now, *flt.instance_conditions())
        .order_by(TaskRecord.due_at)
        .limit(limit)
    )
    return [
        {
            "task_id": t.id,
            "instance_id": t.instance_id,
            "process": pname,
            "summary": summary,
            "summary_fr": summary_fr,
            "step": t.name,
            "held_by": name or f"queue: {t.role}",
            "due_at": t.due_at,
            "overdue_days": round((now - t.due_at).total_seconds() / 86400, 1),
        }
        for t, summary, summary_fr, pname, name in session.execute(query)
        if t.due_at is not None  # always, by the WHERE clause; says so to the type checker
    ]


def _period(flt: ReportFilter, now: datetime, default_days: int = 90) -> tuple[datetime, datetime]:
    until = flt.until or now
    return flt.since or until - timedelta(days=default_days), until


def throughput_by_week(session: Session, flt: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Requests that ended per ISO week of the period, by outcome."""
    since, until = _period(flt, now, 84)
    rows = session.execute(
        select(ProcessInstance.ended_at, ProcessInstance.status, ProcessInstance.outcome).where(
            ProcessInstance.ended_at >= since, ProcessInstance.ended_at < until, *flt.instance_conditions()
        )
    )
    weeks: dict[str, dict[str, int]] = {}
    monday = since - timedelta(days=since.weekday())
    while monday < until:
        weeks[monday.date().isoformat()] = {"approved": 0, "rejected": 0, "cancelled": 0}
        monday += timedelta(days=7)
    for ended, status, outcome in rows:
        assert ended is not None  # the WHERE clause keeps ended requests only
        week = (ended - timedelta(days=ended.weekday())).date().isoformat()
        weeks.setdefault(week, {"approved": 0, "rejected": 0, "cancelled": 0})[outcome_class(status, outcome)] += 1
    return [{"week": w, **counts, "total": sum(counts.values())} for w, counts in sorted(weeks.items())]


def time_per_step(session: Session, flt: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Median and 90th-percentile time (days) from a task's creation to its completion, per step."""
    since, until = _period(flt, now)
    query = (
        select(TaskRecord.process_key, TaskRecord.name, TaskRecord.created_at, TaskRecord.completed_at)
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .where(
            TaskRecord.status == "completed",
            TaskRecord.completed_at >= since,
            TaskRecord.completed_at < until,
            *flt.instance_conditions(),
        )
    )
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for key, step, created, completed in session.execute(query):
        assert completed is not None  # the WHERE clause keeps completed tasks only
        groups[(key, step)].append((completed - created).total_seconds() / 86400)
    return sorted(
        (
            {
                "process_key": k,
                "step": s,
                "completed": len(v),
                "median_days": _rounded(percentile(v, 0.5), 2),
                "p90_days": _rounded(percentile(v, 0.9), 2),
            }
            for (k, s), v in groups.items()
        ),
        key=lambda r: (r["process_key"], -r["median_days"]),
    )


def end_to_end(session: Session, flt: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Per process: requests ended in the period, median and 90th-percentile duration, outcome rates."""
    since, until = _period(flt, now)
    rows = session.execute(
        select(
            ProcessInstance.process_key,
            ProcessInstance.created_at,
            ProcessInstance.ended_at,
            ProcessInstance.status,
            ProcessInstance.outcome,
        ).where(ProcessInstance.ended_at >= since, ProcessInstance.ended_at < until, *flt.instance_conditions())
    )
    groups: dict[str, list] = defaultdict(list)
    for key, created, ended, status, outcome in rows:
        assert ended is not None  # the WHERE clause keeps ended requests only
        groups[key].append(((ended - created).total_seconds() / 86400, outcome_class(status, outcome)))
    out = []
    for key, items in sorted(groups.items()):
        days = [d for d, _ in items]
        classes = [c for _, c in items]
        decided = sum(1 for c in classes if c in ("approved", "rejected")) or 1
        out.append(
            {
                "process_key": key,
                "ended": len(items),
                "median_days": _rounded(percentile(days, 0.5), 1),
                "p90_days": _rounded(percentile(days, 0.9), 1),
                "approved": classes.count("approved"),
                "rejected": classes.count("rejected"),
                "cancelled": classes.count("cancelled"),
                "approval_rate": round(100 * classes.count("approved") / decided),
            }
        )
    return out


def status_counts(session: Session, flt: ReportFilter) -> dict[str, int]:
    """Requests by status (all time, within the process filter)."""
    return dict(
        session.execute(
            select(ProcessInstance.status, func.count())
            .where(*flt.instance_conditions())
            .group_by(ProcessInstance.status)
        ).all()
    )


def facet_values(session: Session) -> dict[str, list[str]]:
    """Distinct countries and units (for the filters), from their indexed columns."""
    return {
        "country": [
            c
            for c in session.scalars(select(ProcessInstance.country).distinct().order_by(ProcessInstance.country))
            if c
        ],
        "unit": [
            u for u in session.scalars(select(ProcessInstance.unit).distinct().order_by(ProcessInstance.unit)) if u
        ],
    }


def upcoming(session: Session, flt: ReportFilter, today: date, days: int = 42) -> list[dict[str, Any]]:
    """Trips and visits starting in the next `days` days (not rejected or cancelled), by start date."""
    rows = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.process_key,
            ProcessInstance.summary,
            ProcessInstance.summary_fr,
            ProcessInstance.status,
            ProcessInstance.outcome,
            ProcessInstance.starts_on,
            ProcessInstance.ends_on,
            ProcessInstance.country,
        )
        .where(
            ProcessInstance.starts_on >= today,
            ProcessInstance.starts_on < today + timedelta(days=days),
            ProcessInstance.status != "cancelled",
            *flt.instance_conditions(),
        )
        .order_by(ProcessInstance.starts_on, ProcessInstance.id)
    )
    return [
        {
            "instance_id": i,
            "process_key": k,
            "summary": summary,
            "summary_fr": summary_fr,
            "starts_on": start,
            "ends_on": end or start,
            "country": country,
            "state": outcome_class(status, outcome),
        }
        for i, k, summary, summary_fr, status, outcome, start, end, country in rows
        if outcome_class(status, outcome) != "rejected"
    ]


def calendar_weeks(entries: list[dict[str, Any]], today: date, days: int = 42) -> list[list[dict[str, Any]]]:
    """`days` days from the Monday of this week, as weeks of {day, entries starting that day}."""
    monday = today - timedelta(days=today.weekday())
    by_day: dict[date, list] = defaultdict(list)
    for entry in entries:
        by_day[entry["starts_on"]].append(entry)
    cells = [
        {"day": monday + timedelta(days=n), "entries": by_day.get(monday + timedelta(days=n), [])} for n in range(days)
    ]
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def requests_in(session: Session, flt: ReportFilter) -> Iterator[ProcessInstance]:
    """Every request the filters cover (created within `since`..`until`), by id, read in batches."""
    conditions = flt.instance_conditions()
    if flt.since:
        conditions.append(ProcessInstance.created_at >= flt.since)
    if flt.until:
        conditions.append(ProcessInstance.created_at <= flt.until)
    query = select(ProcessInstance).where(*conditions).order_by(ProcessInstance.id)
    yield from session.scalars(query.execution_options(yield_per=500))
