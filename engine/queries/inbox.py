"""The inbox's queries and rules: tabs, filters, counts, who may see a request or act on a task.

Every query here reads the task index and instance rows with a fixed number of SQL
statements per page, whatever the number of tasks: the tab counts and the total for pagination
(one statement), and the rows (one joined query). Counts stop at COUNT_CAP: their cost is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, false, func, literal, literal_column, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased, contains_eager

from engine.errors import NotFound
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.people.delegation import active_delegators, holders_for
from engine.permissions import OVERSIGHT_ROLES
from engine.queries import literal_count, summary_contains
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


def _tabs(user: User, holders: list[int], now: datetime) -> dict[str, list[Any]]:
    """Per task tab, the disjoint conditions whose union is its open tasks (built once a page)."""
    held, claimed, queues = _branches(user, holders)
    late = TaskRecord.due_at < now
    return {
        "mine": [held, claimed],
        "queue": queues or [false()],
        "overdue": [and_(branch, late) for branch in (held, claimed, *queues)],
    }


#: a literal, not a bound value: SQLite and PostgreSQL's generic plans then know the partial indexes hold only these
_OPEN = TaskRecord.status == literal_column("'ready'")


def _open(branch: Any, *filters: Any, join: bool = False) -> Any:
    """SQL: ids of the open tasks of one branch matching all `filters` (`join`: they read the request)."""
    query = select(TaskRecord.id)
    if join:
        query = query.join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
    return query.where(_OPEN, branch, *filters)


def _counts(session: Session, parts: dict[str, list[Any]]) -> dict[str, int]:
    """Rows each name's disjoint queries select, up to COUNT_CAP: capped counts, in one statement."""
    named = [(name, query) for name, queries in parts.items() for query in queries]
    # each counts constant rows: selecting the tasks' ids (not SQLite's rowid) would visit every row
    cap = literal_count(COUNT_CAP)
    ones = [q.with_only_columns(literal(1), maintain_column_froms=True).limit(cap) for _, q in named]
    capped = [select(func.count()).select_from(q.subquery()).scalar_subquery() for q in ones]
    totals = dict.fromkeys(parts, 0)
    for (name, _), value in zip(named, session.execute(select(*capped)).one(), strict=True):
        totals[name] += int(value or 0)
    return {name: min(total, COUNT_CAP) for name, total in totals.items()}


def _count_parts(user: User, tabs: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The queries of every tab's count (index-only): each tab's branches, the user's running requests."""
    started = select(ProcessInstance.id).where(
        ProcessInstance.started_by_id == user.id, ProcessInstance.status == "running"
    )
    return {**{tab: [_open(branch) for branch in branches] for tab, branches in tabs.items()}, "started": [started]}


def inbox_page(session: Session, user: User, query: InboxQuery, now: datetime) -> InboxPage:
    """One page of a tab, with its total and every tab's count (the counts and the total: one statement).

    A filtered first page shorter than a page is its own total, not counted again: a search that
    matches little would otherwise read its whole tab twice (for the rows, then for the count)."""
    q = query.normalized()
    tabs = _tabs(user, holders_for(session, user, now.date()), now)
    if q.tab == "started":
        filters = _started_filters(user, q)
        rows = _started_page(session, user, q, now, filters)
        total = [select(ProcessInstance.id).where(*filters)]
    else:
        filters = _task_filters(q, now)
        rows = _task_page(session, q, now, tabs[q.tab], filters)
        total = [_open(branch, *filters, join=bool(q.search)) for branch in tabs[q.tab]] if filters else []
    whole = q.page == 1 and len(rows) <= q.per_page  # the rows are every match
    counts = _counts(session, {**_count_parts(user, tabs), **({"total": total} if total and not whole else {})})
    count = counts.pop("total", len(rows)) if total else counts[q.tab]
    return InboxPage(q, rows[: q.per_page], count, counts, has_next=len(rows) > q.per_page)


def _task_filters(q: InboxQuery, now: datetime) -> list[Any]:
    wanted = (q.process, TaskRecord.process_key == q.process), (q.step, TaskRecord.name == q.step)
    filters = [condition for value, condition in wanted if value]
    filters += [TaskRecord.due_at < now] if q.overdue_only else []
    return filters + ([summary_contains(q.search)] if q.search else [])


#: The page's order of task rows, by `InboxQuery.sort`.
_TASK_ORDER = {
    "due": (TaskRecord.due_at.asc(), TaskRecord.created_at.asc(), TaskRecord.id),
    "-due": (TaskRecord.due_at.desc(), TaskRecord.created_at.desc(), TaskRecord.id),
    "age": (TaskRecord.created_at.asc(), TaskRecord.id),
    "-age": (TaskRecord.created_at.desc(), TaskRecord.id),
}


#: An inbox row's columns, with its request, process and people (built once, for every page).
_STARTER, _HOLDER, _CLAIMANT = aliased(User), aliased(User, name="holder"), aliased(User, name="claimant")
_TASK_ROWS = (
    select(
        TaskRecord.id.label("task_id"),
        ProcessInstance.id.label("instance_id"),
        TaskRecord.process_key,
        ProcessDefinition.name.label("process_name"),
        ProcessInstance.summary,
        ProcessInstance.summary_fr,
        TaskRecord.name.label("step"),
        TaskRecord.element_id,
        TaskRecord.subject,
        TaskRecord.role,
        _STARTER.display_name.label("requester"),
        _HOLDER.display_name.label("holder"),
        _CLAIMANT.display_name.label("claimant"),
        TaskRecord.created_at,
        TaskRecord.due_at,
        TaskRecord.status,
    )
    .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
    .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
    .outerjoin(_STARTER, ProcessInstance.started_by_id == _STARTER.id)
    .outerjoin(_HOLDER, TaskRecord.assignee_id == _HOLDER.id)
    .outerjoin(_CLAIMANT, TaskRecord.claimed_by_id == _CLAIMANT.id)
)


def _task_page(
    session: Session, q: InboxQuery, now: datetime, branches: list[Any], filters: list[Any]
) -> list[InboxRow]:
    """Rows of the page (and the first of the next, if any), the columns a row shows (no workflow state).

    The rows come from the union of each branch's first `offset + per_page + 1` tasks in the
    page's order, each read from its own index: the page is among them.
    """
    order = _TASK_ORDER[q.sort]
    offset, wanted = (q.page - 1) * q.per_page, q.per_page + 1
    firsts = [
        select(_open(branch, *filters, join=True).order_by(*order).limit(literal_count(offset + wanted)).subquery())
        for branch in branches
    ]
    candidates = firsts[0] if len(firsts) == 1 else union_all(*firsts)
    base = _TASK_ROWS.where(TaskRecord.id.in_(candidates))
    rows = []
    page = base.order_by(*order).offset(literal_count(offset)).limit(literal_count(wanted))
    for row in session.execute(page).mappings():
        fields = dict(row)
        fields["holder"] = fields.pop("claimant") or fields["holder"]
        rows.append(InboxRow(**fields, overdue=row.due_at is not None and row.due_at < now))
    return rows


def _started_filters(user: User, q: InboxQuery) -> list[Any]:
    process = [ProcessInstance.process_key == q.process] if q.process else []
    search = [summary_contains(q.search)] if q.search else []
    return [ProcessInstance.started_by_id == user.id, *process, *search]


def _started_page(session: Session, user: User, q: InboxQuery, now: datetime, filters: list[Any]) -> list[InboxRow]:
    """The user's requests (and the first of the next page), each with its open steps and who holds them."""
    order = ProcessInstance.created_at.asc() if q.sort == "age" else ProcessInstance.created_at.desc()
    instances = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.process_key,
            ProcessInstance.summary,
            ProcessInstance.summary_fr,
            ProcessInstance.outcome,
            ProcessInstance.status,
            ProcessInstance.created_at,
            ProcessDefinition.name,
        )
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(*filters)
        .order_by(order, ProcessInstance.id.desc())
        .offset((q.page - 1) * q.per_page)
        .limit(q.per_page + 1)
    ).all()
    open_steps: dict[int, list[Any]] = {}
    if instances:
        holder = aliased(User)
        for step in session.execute(
            select(TaskRecord.instance_id, TaskRecord.name, TaskRecord.role, TaskRecord.due_at, holder.display_name)
            .outerjoin(holder, holder.id == func.coalesce(TaskRecord.claimed_by_id, TaskRecord.assignee_id))
            .where(TaskRecord.instance_id.in_([i.id for i in instances]), TaskRecord.status == "ready")
            .order_by(TaskRecord.created_at)
        ):
            open_steps.setdefault(step.instance_id, []).append(step)
    return [_started_row(user, instance, open_steps.get(instance.id, []), now) for instance in instances]


def _started_row(user: User, instance: Any, steps: list[Any], now: datetime) -> InboxRow:
    first = steps[0] if steps else None
    return InboxRow(
        task_id=None,
        instance_id=instance.id,
        process_key=instance.process_key,
        process_name=instance.name,
        summary=instance.summary,
        summary_fr=instance.summary_fr,
        step=", ".join(s.name for s in steps) or (instance.outcome or instance.status),
        role=first.role if first else None,
        requester=user.display_name,
        holder=", ".join(sorted({s.display_name or s.role or "" for s in steps})) or None,
        created_at=instance.created_at,
        due_at=first.due_at if first else None,
        overdue=bool(first and first.due_at and first.due_at < now),
        status=instance.status,
    )


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
