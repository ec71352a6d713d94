"""The inbox's queries and rules: tabs, filters, counts, who may see a request or act on a task.

Every query here reads the task index and instance rows with a fixed number of SQL
statements per page, whatever the number of tasks: rows (one joined query), the total for
pagination, and the tab counts. Counts stop at COUNT_CAP, so their cost is bounded too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, false, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased, contains_eager

from engine.errors import NotFound
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.people.delegation import active_delegators, holders_for
from engine.permissions import OVERSIGHT_ROLES
from engine.queries import summary_contains
from engine.task_owners import candidate_task_ids, in_queue_of

TABS = ("mine", "queue", "overdue", "started")
MAX_PER_PAGE = 100


@dataclass
class InboxQuery:
    """What the person asked for: a tab, filters, sort order and page."""

    tab: str = "mine"
    process: str | None = None
    step: str | None = None
    overdue_only: bool = False
    search: str | None = None
    sort: str = "due"
    page: int = 1
    per_page: int = 25

    def normalized(self) -> InboxQuery:
        return InboxQuery(
            tab=self.tab if self.tab in TABS else "mine",
            process=self.process or None,
            step=self.step or None,
            overdue_only=bool(self.overdue_only),
            search=(self.search or "").strip()[:200] or None,
            sort=self.sort if self.sort in ("due", "age", "-due", "-age") else "due",
            page=max(1, min(int(self.page or 1), 10_000)),
            per_page=max(1, min(int(self.per_page or 25), MAX_PER_PAGE)),
        )


@dataclass
class InboxRow:
    task_id: str | None
    instance_id: int
    process_key: str
    process_name: str
    summary: str
    summary_fr: str  # "" where none was saved
    step: str
    role: str | None
    requester: str | None
    holder: str | None
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    status: str
    #: the step's BPMN element (a task row's), so its French name is found by id
    element_id: str | None = None
    #: which one of a multi-instance step it is ("M2", engine.taskindex.task_subject)
    subject: str | None = None


#: Counts stop here (shown "1000+"): counting all of a busy queue's open tasks would cost more
#: than the page itself (tens of milliseconds per 10,000 matches), and nobody pages that far.
COUNT_CAP = 1000


@dataclass
class InboxPage:
    query: InboxQuery
    rows: list[InboxRow]
    #: matches of the tab and filters, up to COUNT_CAP
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    #: whether another page follows (read, not counted: one row more than the page)
    has_next: bool = False

    @property
    def capped(self) -> bool:
        """Whether `total` stopped at COUNT_CAP (the exact number of pages is then unknown)."""
        return self.total >= COUNT_CAP

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page), self.query.page + self.has_next)


def _branches(user: User, holders: list[int] | None = None) -> tuple[Any, Any, list[Any]]:
    """Disjoint SQL conditions on open tasks: (held: assigned to the user or a delegator,
    claimed: claimed by them and not assigned to them, queues: unclaimed in each of their roles'
    queues, one per role so each reads its queue in due order, and one of tasks offered them by name).

    None ever includes an approval of a request the user started (no self-approval).
    Each is a plain AND, so SQLite and PostgreSQL answer it from one partial index on open tasks
    (an OR of them sends SQLite's planner to read every open task instead).
    """
    holders = holders or [user.id]
    # engine.permissions.bars_requester, in SQL: not an approval, or not a request the user started
    others = or_(TaskRecord.requester_id.is_(None), TaskRecord.requester_id != user.id)
    not_own = or_(TaskRecord.approval.is_(False), TaskRecord.role == "requester", others)
    held = and_(TaskRecord.assignee_id.in_(holders), not_own)
    claimed = and_(
        TaskRecord.claimed_by_id.in_(holders),
        or_(TaskRecord.assignee_id.is_(None), TaskRecord.assignee_id.not_in(holders)),
        not_own,
    )
    unclaimed = and_(TaskRecord.assignee_id.is_(None), TaskRecord.claimed_by_id.is_(None), not_own)
    queues = [and_(TaskRecord.role == role, unclaimed) for role in sorted(user.roles)]
    queues.append(and_(TaskRecord.role.is_(None), TaskRecord.id.in_(candidate_task_ids(user.id)), unclaimed))
    return held, claimed, queues


def actionable_conditions(user: User, holders: list[int] | None = None) -> tuple[Any, Any]:
    """SQL for (tasks the user holds or holds for a delegator, open queue tasks of their roles)."""
    held, claimed, queues = _branches(user, holders)
    return or_(held, claimed), or_(false(), *queues)


def _tab_branches(user: User, holders: list[int], tab: str, now: datetime) -> list[Any]:
    """The disjoint conditions whose union is a tab's open tasks."""
    held, claimed, queues = _branches(user, holders)
    late = TaskRecord.due_at < now
    return {
        "mine": [held, claimed],
        "queue": queues or [false()],
        "overdue": [and_(branch, late) for branch in (held, claimed, *queues)],
    }[tab]


def _count(session: Session, query: Any) -> int:
    """How many rows `query` selects, up to COUNT_CAP (it stops reading there)."""
    return int(session.scalar(select(func.count()).select_from(query.limit(COUNT_CAP).subquery())) or 0)


def _count_open(session: Session, branches: list[Any], *filters: Any, join: bool = False) -> int:
    """Open tasks matching any of the disjoint `branches` and all `filters`, up to COUNT_CAP."""
    total = 0
    for branch in branches:
        query = select(TaskRecord.id)
        if join:
            query = query.join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        total += _count(session, query.where(TaskRecord.status == "ready", branch, *filters))
    return min(total, COUNT_CAP)


def tab_counts(session: Session, user: User, now: datetime, holders: list[int] | None = None) -> dict[str, int]:
    """Open items per tab (up to COUNT_CAP): a few index-only counts, whatever the size of the task table."""
    holders = holders or [user.id]
    started = select(ProcessInstance.id).where(
        ProcessInstance.started_by_id == user.id, ProcessInstance.status == "running"
    )
    counts = {tab: _count_open(session, _tab_branches(user, holders, tab, now)) for tab in ("mine", "queue", "overdue")}
    return {**counts, "started": _count(session, started)}


def inbox_page(session: Session, user: User, query: InboxQuery, now: datetime) -> InboxPage:
    """One page of a tab, with its total and every tab's count."""
    q = query.normalized()
    holders = holders_for(session, user, now.date())
    counts = tab_counts(session, user, now, holders)
    if q.tab == "started":
        rows, total = _started_page(session, user, q, now)
    else:
        rows, total = _task_page(session, user, q, now, holders, counts)
    return InboxPage(q, rows[: q.per_page], total, counts, has_next=len(rows) > q.per_page)


def _task_page(
    session: Session, user: User, q: InboxQuery, now: datetime, holders: list[int], counts: dict[str, int]
) -> tuple[list[InboxRow], int]:
    """Rows of the page (and the first of the next, if any) and the capped total.

    The rows come from the union of each branch's first `offset + per_page + 1` tasks in the
    page's order, each read from its own index: the page is among them.
    """
    branches = _tab_branches(user, holders, q.tab, now)
    starter = aliased(User)
    holder = aliased(User, name="holder")
    claimant = aliased(User, name="claimant")
    filters = []
    if q.process:
        filters.append(TaskRecord.process_key == q.process)
    if q.step:
        filters.append(TaskRecord.name == q.step)
    if q.overdue_only:
        filters.append(TaskRecord.due_at < now)
    if q.search:
        filters.append(summary_contains(q.search))
    order = {
        "due": (TaskRecord.due_at.asc(), TaskRecord.created_at.asc(), TaskRecord.id),
        "-due": (TaskRecord.due_at.desc(), TaskRecord.created_at.desc(), TaskRecord.id),
        "age": (TaskRecord.created_at.asc(), TaskRecord.id),
        "-age": (TaskRecord.created_at.desc(), TaskRecord.id),
    }[q.sort]
    offset, wanted = (q.page - 1) * q.per_page, q.per_page + 1
    firsts = [
        select(
            select(TaskRecord.id)
            .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
            .where(TaskRecord.status == "ready", branch, *filters)
            .order_by(*order)
            .limit(offset + wanted)
            .subquery()
        )
        for branch in branches
    ]
    candidates = firsts[0] if len(firsts) == 1 else union_all(*firsts)
    base = (
        select(
            TaskRecord,
            ProcessInstance,
            ProcessDefinition.name,
            starter.display_name,
            holder.display_name,
            claimant.display_name,
        )
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .outerjoin(starter, ProcessInstance.started_by_id == starter.id)
        .outerjoin(holder, TaskRecord.assignee_id == holder.id)
        .outerjoin(claimant, TaskRecord.claimed_by_id == claimant.id)
        .where(TaskRecord.id.in_(candidates))
    )
    total = counts[q.tab] if not filters else _count_open(session, branches, *filters, join=bool(q.search))
    result = session.execute(base.order_by(*order).offset(offset).limit(wanted))
    rows = [
        InboxRow(
            task_id=t.id,
            instance_id=i.id,
            process_key=t.process_key,
            process_name=pname,
            summary=i.summary,
            summary_fr=i.summary_fr,
            step=t.name,
            element_id=t.element_id,
            subject=t.subject,
            role=t.role,
            requester=sname,
            holder=cname or hname,
            created_at=t.created_at,
            due_at=t.due_at,
            overdue=t.due_at is not None and t.due_at < now,
            status=t.status,
        )
        for t, i, pname, sname, hname, cname in result
    ]
    return rows, int(total or 0)


def _started_page(session: Session, user: User, q: InboxQuery, now: datetime) -> tuple[list[InboxRow], int]:
    filters = [ProcessInstance.started_by_id == user.id]
    if q.process:
        filters.append(ProcessInstance.process_key == q.process)
    if q.search:
        filters.append(summary_contains(q.search))
    order = ProcessInstance.created_at.asc() if q.sort == "age" else ProcessInstance.created_at.desc()
    total = _count(session, select(ProcessInstance.id).where(*filters))
    instances = session.execute(
        select(ProcessInstance, ProcessDefinition.name)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(*filters)
        .order_by(order, ProcessInstance.id.desc())
        .offset((q.page - 1) * q.per_page)
        .limit(q.per_page + 1)
    ).all()
    ids = [i.id for i, _ in instances]
    open_steps: dict[int, list[TaskRecord]] = {}
    holder_names: dict[str, str | None] = {}
    if ids:
        holder = aliased(User)
        for task, name in session.execute(
            select(TaskRecord, holder.display_name)
            .outerjoin(holder, holder.id == func.coalesce(TaskRecord.claimed_by_id, TaskRecord.assignee_id))
            .where(TaskRecord.instance_id.in_(ids), TaskRecord.status == "ready")
            .order_by(TaskRecord.created_at)
        ):
            holder_names[task.id] = name
            open_steps.setdefault(task.instance_id, []).append(task)
    rows = []
    for instance, pname in instances:
        steps = open_steps.get(instance.id, [])
        first = steps[0] if steps else None
        rows.append(
            InboxRow(
                task_id=None,
                instance_id=instance.id,
                process_key=instance.process_key,
                process_name=pname,
                summary=instance.summary,
                summary_fr=instance.summary_fr,
                step=", ".join(s.name for s in steps) or (instance.outcome or instance.status),
                role=first.role if first else None,
                requester=user.display_name,
                holder=", ".join(sorted({holder_names[s.id] or s.role or "" for s in steps})) or None,
                created_at=instance.created_at,
                due_at=first.due_at if first else None,
                overdue=bool(first and first.due_at and first.due_at < now),
                status=instance.status,
            )
        )
    return rows, int(total or 0)


# --- visibility -------------------------------------------------------------------------------
def visibility_condition(user: User, instance_id: Any, started_by_id: Any, today: date) -> Any:
    """SQL true when `user` may see the instance with these id/starter columns (or values): its
    starter; anyone who holds or held one of its tasks; a holder's manager, and their delegate on
    `today` (`holders_for`'s window); members of an open queue task's role; coordinators, admins."""
    if user.roles & OVERSIGHT_ROLES:
        return true()
    task = aliased(TaskRecord)  # not an outer query's tasks
    related = select(User.id).where(User.manager_id == user.id).union(active_delegators(user.id, today))
    involved = exists().where(
        task.instance_id == instance_id,
        or_(
            task.assignee_id == user.id,
            task.claimed_by_id == user.id,
            task.completed_by_id == user.id,
            and_(task.status == "ready", or_(task.assignee_id.in_(related), task.claimed_by_id.in_(related))),
            and_(
                task.status == "ready",
                task.assignee_id.is_(None),
                task.claimed_by_id.is_(None),
                or_(task.role.in_(sorted(user.roles) or [""]), task.id.in_(candidate_task_ids(user.id))),
            ),
        ),
    )
    return or_(started_by_id == user.id, involved)


def can_view(session: Session, user: User, instance: ProcessInstance, today: date) -> bool:
    """May `user` see this request on `today`? (see `visibility_condition`)"""
    condition = visibility_condition(user, literal(instance.id), literal(instance.started_by_id), today)
    return bool(session.scalar(select(condition)))


def visible_instance(session: Session, user: User, instance_id: int, today: date) -> ProcessInstance:
    """The instance if the user may see it on `today`; NotFound otherwise (no hint that it exists)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not can_view(session, user, instance, today):
        raise NotFound("no_such_request", id=instance_id)
    return instance


def visible_task(session: Session, user: User, task_id: str, today: date) -> TaskRecord:
    """The task row if the user may see its request on `today`; NotFound otherwise."""
    row = _task_row(session, task_id)
    if row is None or not can_view(session, user, row.instance, today):
        raise NotFound("no_such_task_here")
    return row


def task_to_act_on(session: Session, user: User, task_id: str, today: date) -> TaskRecord:
    """The task a person asks to claim, release or complete, on a page or through the API.

    A task of a request they may see, or a queue task of one of their roles even after a
    colleague took or finished it, so that they get the engine's refusal (claimed, completed)
    rather than "no such task". A task assigned to someone else stays NotFound.
    """
    row = _task_row(session, task_id)
    if row is not None and row.assignee_id is None and in_queue_of(session, user, row):
        return row
    if row is None or not can_view(session, user, row.instance, today):
        raise NotFound("no_such_task_here")
    return row


def _task_row(session: Session, task_id: str) -> TaskRecord | None:
    return session.scalars(
        select(TaskRecord)
        .join(TaskRecord.instance)
        .options(contains_eager(TaskRecord.instance))
        .where(TaskRecord.id == str(task_id))
    ).first()
