"""The daily digest: one email per person with waiting work, oldest task first (opt-out per user).

The worker runs `send_digests` when the `daily_digest` row of `periodic_jobs` is due (at
`digest_hour`, office time) and moves that row to the next day in the same transaction, so one
worker sends each day's digests, once, however many run; a dedup key per person and day guards
the rest.

Whatever the number of open tasks, the SQL reads no workflow state and a bounded number of
statements: each person's count from one query of index-only counts (per holder, per queue, and
a queue member's own requests, which separation of duties may keep from them), then the open
tasks oldest first, read from `ix_tasks_open_created` alone (it holds the columns that say whose
they are), only until everyone's list is full, then the details of the listed tasks. Rendering is
per person, DIGEST_LIMIT tasks at most.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, Select, String, cast, func, literal_column, null, select, union_all
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from engine.definitions import element_properties
from engine.mail import bodies
from engine.mail.compose import MailContext, send_plain
from engine.mail.links import ActionToken, TokenRejected, is_used, mint, redeem
from engine.models import OutboxMessage, ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.models.processes import summary_line_in
from engine.permissions import bars_requester

DIGEST_LIMIT = 50
#: keys looked up (and rows streamed) per statement, well under SQLite's bound-parameter limit
_KEYS_PER_QUERY = 1000


def send_digests(session: Session, mail: MailContext, now: datetime) -> int:
    """One email per person with waiting work (unless they opted out), oldest task first; returns count."""
    config = mail.config
    if not config.enabled:
        return 0
    people = {u.id: u for u in session.scalars(select(User).where(*_RECIPIENT)) if u.email}
    by_role: dict[str, list[int]] = {}
    for user in people.values():
        for role in user.roles:
            by_role.setdefault(role, []).append(user.id)
    totals = _totals(session, people, by_role)
    oldest = _oldest(session, by_role, totals)
    names: dict[tuple[int, str], dict[str, str]] = {}
    local_today = now.astimezone(ZoneInfo(config.timezone)).date()
    keys = {user_id: f"digest:{user_id}:{local_today.isoformat()}" for user_id in oldest}
    queued = _queued(session, keys.values())
    count = 0
    for user_id, rows in oldest.items():
        if keys[user_id] in queued:
            continue
        user = people[user_id]
        opt_out = mint(
            config.secret_key, user_id=user.id, task_id=None, action="digest_off", now=now, ttl=timedelta(days=30)
        )
        context = {
            "items": [_digest_item(session, mail, row, user, now, names) for row in rows],
            "total": totals[user_id],
            "more": totals[user_id] - len(rows),
            "inbox_url": f"{config.base_url}/inbox",
            "opt_out_url": f"{config.base_url}/email-actions/{opt_out}",
            "today": bodies.format_date(local_today, user.language),
        }
        send_plain(session, config, "digest", user, now, context, auto="auto-generated", dedup_key=keys[user_id])
        count += 1
    return count


#: who gets a digest (and, in Python, only with an email address)
_RECIPIENT = (User.active.is_(True), User.digest_opt_out.is_(False))
#: a literal, not a bound value: SQLite then knows the partial indexes hold only open tasks, and reads them alone
_OPEN = TaskRecord.status == literal_column("'ready'")
_QUEUED = (TaskRecord.assignee_id.is_(None), TaskRecord.claimed_by_id.is_(None))


def _totals(session: Session, people: dict[int, User], by_role: dict[str, list[int]]) -> dict[int, int]:
    """Each person's open tasks: held (claimed, or assigned and not claimed), plus their queues'
    tasks but the approvals of requests they started; one statement of counts from the partial indexes."""
    claimed, assignee, role = TaskRecord.claimed_by_id, TaskRecord.assignee_id, TaskRecord.role
    parts = [
        _counted(claimed, _NO_ROLE, _NO_APPROVAL, claimed.is_not(None)),
        _counted(assignee, _NO_ROLE, _NO_APPROVAL, assignee.is_not(None)),
        # an assigned task that someone claimed is the claimant's (counted above), not the assignee's
        _counted(assignee, _NO_ROLE, _NO_APPROVAL, claimed.is_not(None), minus=True),
        _counted(_NO_USER, role, _NO_APPROVAL, *_QUEUED),
    ]
    for key, members in by_role.items():  # queue tasks a member started: not theirs to take if approvals
        # `+ 0`: read the role's queue index (its requester column too), not all a member's requests
        own = (*_QUEUED, role == key, (TaskRecord.requester_id + 0).in_(members))
        parts.append(_counted(TaskRecord.requester_id, role, TaskRecord.approval, *own, minus=True))
    totals: dict[int, int] = {}
    for row in session.execute(union_all(*parts)):
        owners: Iterable[int | None] = [row.user_id]
        if row.role is not None and row.user_id is None:
            owners = by_role.get(row.role, [])
        elif row.role is not None and not bars_requester(row):  # type: ignore[arg-type]  # has the columns it reads
            owners = []
        for owner in owners:
            if owner in people:
                totals[owner] = totals.get(owner, 0) + row.tasks
    return {user_id: tasks for user_id, tasks in totals.items() if tasks > 0}


_NO_USER, _NO_ROLE, _NO_APPROVAL = cast(null(), Integer), cast(null(), String), cast(null(), Boolean)
_NO_COLUMNS = (_NO_USER, _NO_ROLE, _NO_APPROVAL)


def _counted(user: Any, role: Any, approval: Any, *where: Any, minus: bool = False) -> Select[Any]:
    """Open tasks matching `where`, counted per the given columns (minus: to take away)."""
    given = [column for column in (user, role, approval) if not any(column is no for no in _NO_COLUMNS)]
    tasks = -func.count() if minus else func.count()
    return (
        select(user.label("user_id"), role.label("role"), approval.label("approval"), tasks.label("tasks"))
        .where(_OPEN, *where)
        .group_by(*given)
    )


def _oldest(session: Session, by_role: dict[str, list[int]], totals: dict[int, int]) -> dict[int, list[Row]]:
    """Each person's first DIGEST_LIMIT open tasks, oldest first: the open tasks are read in that
    order (narrow rows from the index) only until every list is full."""
    wanted = {user_id: min(tasks, DIGEST_LIMIT) for user_id, tasks in totals.items()}
    lists: dict[int, list[str]] = {}
    walk = (
        select(*_OWNER_COLUMNS)
        .where(_OPEN)
        .order_by(TaskRecord.created_at, TaskRecord.id)
        .execution_options(yield_per=_KEYS_PER_QUERY)
    )
    result = session.execute(walk)
    for row in result:
        if not wanted:
            break
        for user_id in _owners(row, by_role):
            if user_id in wanted:
                lists.setdefault(user_id, []).append(row.id)
                if len(lists[user_id]) == wanted[user_id]:
                    del wanted[user_id]
    result.close()
    details = _details(session, {task_id for ids in lists.values() for task_id in ids})
    return {user_id: [details[task_id] for task_id in ids] for user_id, ids in lists.items()}


_OWNER_COLUMNS = (
    TaskRecord.id,
    TaskRecord.role,
    TaskRecord.approval,
    TaskRecord.assignee_id,
    TaskRecord.claimed_by_id,
    TaskRecord.requester_id,
)


def _owners(row: Row, by_role: dict[str, list[int]]) -> Iterable[int]:
    """Whose list an open task is on: its holder's, or each member of its queue it does not bar."""
    holder = row.claimed_by_id or row.assignee_id
    if holder is not None:
        return (holder,)
    bars = bars_requester(row)  # type: ignore[arg-type]  # a row with the columns it reads
    return [u for u in by_role.get(row.role or "", ()) if not bars or u != row.requester_id]


def _details(session: Session, task_ids: set[str]) -> dict[str, Row]:
    """What a digest shows of each of these tasks (and of its request)."""
    wanted, found = sorted(task_ids), dict[str, Row]()
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        found.update((row.id, row) for row in session.execute(_WAITING.where(TaskRecord.id.in_(chunk))))
    return found


def _queued(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these dedup keys were already queued (today's digests sent before a crash)."""
    wanted, found = list(keys), set[str]()
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        found.update(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(chunk))))
    return found


_WAITING = select(
    TaskRecord.id,
    TaskRecord.name,
    TaskRecord.element_id,
    TaskRecord.due_at,
    ProcessInstance.summary,
    ProcessInstance.summary_fr,
    ProcessInstance.definition_id,
).join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)


def _digest_item(
    session: Session,
    mail: MailContext,
    row: Row,
    user: User,
    now: datetime,
    cache: dict[tuple[int, str], dict[str, str]],
) -> dict[str, Any]:
    key = (row.definition_id, row.element_id)
    if key not in cache:
        definition = session.get(ProcessDefinition, row.definition_id)
        cache[key] = element_properties(mail.spec(session, definition), row.element_id) if definition else {}
    lang = bodies.language_of(user.language)
    return {
        "name": (cache[key].get("name_fr") or row.name) if lang == "fr" else row.name,
        "summary": summary_line_in(lang, row.summary, row.summary_fr),
        "due": bodies.format_datetime(row.due_at, lang, mail.config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "url": f"{mail.config.base_url}/tasks/{row.id}",
    }


def opt_out(session: Session, grant: ActionToken, now: datetime) -> User:
    """Stop the daily digest for the user of a `digest_off` token (idempotent; the token is used once)."""
    user = session.get(User, grant.user_id)
    if user is None or grant.action != "digest_off":
        raise TokenRejected("link_invalid")
    if not is_used(session, grant):
        redeem(session, grant, now)
    user.digest_opt_out = True
    return user
