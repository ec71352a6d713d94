"""The register of requests: every request a person may see, searched, filtered and paged.

The ITV coordinator, senior management and admins see the office's whole register; everyone else
sees the requests `engine.queries.inbox.can_view` shows them (their own, and those they worked
on or may take). Rows are read as columns only (never an instance's state or data), newest first
by id, in keyset pages (the cursor is the last id shown), so a page costs the same at 100,000
requests as at 100. The count stops at `COUNT_CAP` ("at least ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine.models import ProcessInstance, TaskRecord, User
from engine.queries import literal_count, summary_contains
from engine.queries.api import visible_condition

COUNT_CAP = 10_000
STATUSES = ("running", "completed", "cancelled")


@dataclass(frozen=True)
class RegisterFilters:
    """What the register can be narrowed by; `search` matches the summary line (names, event, city,
    country) or, as `#123` or `123`, the request's reference."""

    search: str = ""
    process: str | None = None
    status: str | None = None
    step: str | None = None
    unit: str | None = None
    country: str | None = None
    starts_from: date | None = None
    starts_to: date | None = None


@dataclass(frozen=True)
class RegisterRow:
    """One request as the register lists it."""

    id: int
    process_key: str
    status: str
    outcome: str | None
    summary: str
    summary_fr: str
    requester: str
    country: str | None
    unit: str | None
    starts_on: date | None
    ends_on: date | None
    created_at: datetime
    steps: tuple[str, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True)
class RegisterPage:
    """A page of the register: its rows, the id to continue after, and how many match (capped)."""

    rows: list[RegisterRow]
    next_after: int | None
    total: int
    capped: bool


def _conditions(user: User, filters: RegisterFilters, today: date) -> list[Any]:
    conditions: list[Any] = [visible_condition(user, today), ProcessInstance.purged_at.is_(None)]
    text = filters.search.strip()
    if text:
        reference = text.lstrip("#")
        by_text = summary_contains(text)
        conditions.append(or_(ProcessInstance.id == int(reference), by_text) if reference.isdigit() else by_text)
    for column, value in (
        (ProcessInstance.process_key, filters.process),
        (ProcessInstance.status, filters.status),
        (ProcessInstance.unit, filters.unit),
        (ProcessInstance.country, filters.country),
    ):
        if value:
            conditions.append(column == value)
    if filters.starts_from:
        conditions.append(ProcessInstance.starts_on >= filters.starts_from)
    if filters.starts_to:
        conditions.append(ProcessInstance.starts_on <= filters.starts_to)
    if filters.step:
        task = aliased(TaskRecord)
        conditions.append(
            exists().where(task.instance_id == ProcessInstance.id, task.status == "ready", task.name == filters.step)
        )
    return conditions


def register_page(
    session: Session, user: User, filters: RegisterFilters, *, after: int | None = None, limit: int = 50, today: date
) -> RegisterPage:
    """The requests `user` may see on `today` that match `filters`, newest first, `limit` after id `after`."""
    conditions = _conditions(user, filters, today)
    rows, next_after = _fetch(session, conditions, after, limit)
    counted = select(func.count()).select_from(
        select(ProcessInstance.id).where(and_(*conditions)).limit(literal_count(COUNT_CAP + 1)).subquery()
    )
    total = session.scalar(counted) or 0
    return RegisterPage(rows, next_after, min(total, COUNT_CAP), total > COUNT_CAP)


def _fetch(
    session: Session, conditions: list[Any], after: int | None, limit: int
) -> tuple[list[RegisterRow], int | None]:
    """One keyset page of rows (columns only) and the id to continue after (None: the last page)."""
    starter = aliased(User)
    query = (
        select(
            ProcessInstance.id,
            ProcessInstance.process_key,
            ProcessInstance.status,
            ProcessInstance.outcome,
            ProcessInstance.summary,
            ProcessInstance.summary_fr,
            func.coalesce(starter.display_name, ""),
            ProcessInstance.country,
            ProcessInstance.unit,
            ProcessInstance.starts_on,
            ProcessInstance.ends_on,
            ProcessInstance.created_at,
        )
        .outerjoin(starter, starter.id == ProcessInstance.started_by_id)
        .where(and_(*conditions))
    )
    if after is not None:
        query = query.where(ProcessInstance.id < after)
    found = session.execute(query.order_by(ProcessInstance.id.desc()).limit(literal_count(limit + 1))).all()
    more = len(found) > limit
    steps = _open_steps(session, [r[0] for r in found[:limit]])
    rows = [RegisterRow(*tuple(r), steps=steps.get(r[0], ())) for r in found[:limit]]
    return rows, (rows[-1].id if more and rows else None)


def _open_steps(session: Session, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The open steps of each listed request (one query for the page)."""
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    query = select(TaskRecord.instance_id, TaskRecord.name).where(
        TaskRecord.instance_id.in_(ids), TaskRecord.status == "ready"
    )
    for instance_id, name in session.execute(query.order_by(TaskRecord.created_at)):
        found.setdefault(instance_id, []).append(name)
    return {k: tuple(v) for k, v in found.items()}


def register_rows(
    session: Session, user: User, filters: RegisterFilters, limit: int = 100_000, *, today: date
) -> list[RegisterRow]:
    """Every matching request `user` may see on `today` (up to `limit`), newest first: the register's CSV."""
    conditions = _conditions(user, filters, today)
    rows: list[RegisterRow] = []
    after: int | None = None
    while len(rows) < limit:
        page, after = _fetch(session, conditions, after, min(1000, limit - len(rows)))
        rows += page
        if after is None:
            break
    return rows
