"""Which task timers and emails an engine action causes; firing reminders and escalations.

Every engine action that saves an instance calls, in its transaction, `plan_follow_ups` before the
instance lock (each newly offered task's reminder timer at its due time and, when the task has
`escalateAfter`, its escalation timer; the new-task emails, recipients found and bodies rendered:
engine/mail/compose.py), `write_follow_ups` once the lock is won (it drops the timers of tasks that
closed and writes the planned rows) and `send_notices` last: the calendar invitation once a trip or
visit is approved (engine/mail/invitations.py) and the requester's email once a request ends
(engine/mail/outcomes.py).
The worker later fires the timers through `fire_reminder` and `fire_escalation`, under its lease
(engine/worker/loop.py). Everything here gets the engine's `MailContext` (configuration, spec
lookup, approval rule), never the `Engine`.

Task properties (docs/modelling.md): `dueIn` (first reminder), `reminderEvery` (default `P1D`),
`escalateAfter` (from creation), `escalateTo` (a role: the task moves to that role's queue) or
`reassignOnEscalation="true"` (the task goes to the escalation target person).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session, joinedload

from engine.audit import SYSTEM_ACTOR
from engine.definitions import ParsedDefinition, element_properties
from engine.locking import record_change
from engine.mail import outbox
from engine.mail.compose import MailContext, send_task_email, task_email, task_recipients
from engine.mail.invitations import send_calendar_invitations
from engine.mail.outcomes import send_outcome_notice
from engine.models import ProcessInstance, TaskRecord, Timer, User
from engine.permissions import bars_requester
from engine.taskindex import TASK_ESCALATION, TASK_REMINDER, SyncResult, due_after, task_properties

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

DEFAULT_REMINDER_EVERY = "P1D"


# --- the hook in the write path (persist.save_workflow) -------------------------------------------
@dataclass
class FollowUps:
    """The timers and new-task emails of an action, computed before the instance lock (recipients
    found, bodies rendered) and written after it by `write_follow_ups`."""

    #: task ids the action closed (None: not known, look them up)
    closed: list[str] | None
    timers: list[dict] = field(default_factory=list)
    emails: list[dict] = field(default_factory=list)


def plan_follow_ups(
    session: Session,
    mail: MailContext,
    instance: ProcessInstance,
    parsed: ParsedDefinition,
    wf: BpmnWorkflow,
    synced: SyncResult,
    now: datetime,
    closed: list[str] | None = None,
) -> FollowUps:
    """Timers and emails for what an action changed (`synced`: the task index's plan): reads and
    rendering only, before the instance lock; nothing is written."""
    plan = FollowUps(closed)
    props = {row.id: _props_from_workflow(wf, parsed, row) for row in synced.created}
    if instance.status == "running":
        plan.timers = [t for row in synced.created for t in task_timers(row, props[row.id])]
    if mail.config.enabled:
        for row in synced.created:
            owners = synced.owners[row.id]
            for user in task_recipients(session, row, owners.candidate_ids, owners.members):
                plan.emails.append(task_email(session, mail, "new_task", row, user, props[row.id], now))
    return plan


def write_follow_ups(session: Session, instance: ProcessInstance, plan: FollowUps) -> None:
    """Under the instance lock, with the save's other writes: drop the timers of tasks that closed,
    write `plan`'s timers and emails (statements only, nothing read back)."""
    if plan.closed is None or plan.closed:
        _drop_closed_task_timers(session, instance.id, plan.closed)
    if plan.timers:
        session.execute(insert(Timer.table()).inline(), plan.timers)  # no id read back
    outbox.insert(session, plan.emails)


def send_notices(
    session: Session, mail: MailContext, instance: ProcessInstance, wf: BpmnWorkflow, now: datetime
) -> None:
    """After the save's writes: the calendar invitation once a trip or visit is approved, and the
    requester's email once the request ends (both read the audit trail the save just wrote)."""
    if mail.config.enabled:
        send_calendar_invitations(session, mail, instance, now)
        send_outcome_notice(session, mail, instance, wf, now)
    session.flush()


def _props_from_workflow(wf: BpmnWorkflow, parsed: ParsedDefinition, row: TaskRecord) -> dict[str, str]:
    try:
        return task_properties(wf.get_task_from_id(UUID(row.id)))
    except Exception:  # the task is not in this workflow object: read the spec instead
        return element_properties(parsed, row.element_id)


# Core statements on the tables' columns, not the mapped classes' attributes: an ORM-enabled
# DELETE looks for matching objects in the session first (its synchronization), which cost more
# than the statement on every completion, and an action holds no timer object of a closed task.
_TIMERS, _TASKS = Timer.table(), TaskRecord.table()
_TASK_TIMERS = delete(_TIMERS).where(
    _TIMERS.c.instance_id == bindparam("instance_id"), _TIMERS.c.kind.in_((TASK_REMINDER, TASK_ESCALATION))
)
_OPEN_TASK_IDS = select(_TASKS.c.id).where(_TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status == "ready")
_DROP_TIMERS_OF = {  # built once: every completion drops its task's timers
    True: _TASK_TIMERS.where(_TIMERS.c.task_id.not_in(_OPEN_TASK_IDS)),
    False: _TASK_TIMERS.where(_TIMERS.c.task_id.in_(bindparam("closed", expanding=True))),
}


def _drop_closed_task_timers(session: Session, instance_id: int, closed: list[str] | None) -> None:
    params = {"instance_id": instance_id} if closed is None else {"instance_id": instance_id, "closed": closed}
    session.execute(_DROP_TIMERS_OF[closed is None], params)


def task_timers(row: TaskRecord, props: Mapping[str, str]) -> list[dict]:
    """A new task's timer rows: a reminder at its due time and, with `escalateAfter`, an escalation."""
    due = {TASK_REMINDER: row.due_at, TASK_ESCALATION: due_after(row.created_at, props.get("escalateAfter"))}
    return [
        dict(instance_id=row.instance_id, task_id=row.id, kind=kind, due_at=at, attempts=0)
        for kind, at in due.items()
        if at is not None
    ]


def schedule_task_timers(session: Session, row: TaskRecord, props: Mapping[str, str]) -> None:
    """Add `task_timers` to the session (a kept task whose timers a move between versions redoes)."""
    session.add_all(Timer(**timer) for timer in task_timers(row, props))


def escalation_target(session: Session, row: TaskRecord) -> User | None:
    """The next level up: the manager of whoever holds the task, or the requester's manager for queue tasks.

    Never the requester (who may not approve their own request): then one more level up.
    """
    holder_id = row.claimed_by_id or row.assignee_id
    instance = row.instance
    base = session.get(User, holder_id) if holder_id is not None else instance.started_by
    target = base.manager if base is not None else None
    seen: set[int] = set()
    while target is not None and target.id == instance.started_by_id and bars_requester(row):
        if target.id in seen:
            return None
        seen.add(target.id)
        target = target.manager
    return target if target is not None and target.active else None


# --- reminders and escalations (fired by the worker, under its lease) ------------------------------
def _open_task_of(session: Session, timer: Timer) -> TaskRecord | None:
    row = session.get(TaskRecord, timer.task_id, options=[joinedload(TaskRecord.instance)])
    if row is None or row.status != "ready" or row.instance.status != "running":
        return None
    return row


def next_reminder(due: datetime, every: str | None, now: datetime) -> datetime:
    """The first reminder time after `now` in the series `due`, `due + every`, ... (one per gap)."""
    step = due_after(due, every or DEFAULT_REMINDER_EVERY)
    if step is None:
        step = due + timedelta(days=1)
    gap = step - due
    if step > now:
        return step
    # after downtime: skip the missed occurrences instead of sending them all
    missed = int((now - due) / gap)
    return due + gap * (missed + 1)


def fire_reminder(session: Session, mail: MailContext, timer: Timer, now: datetime) -> int:
    """Send the reminder of an open task and move its timer to the next one; returns emails queued."""
    row = _open_task_of(session, timer)
    if row is None:
        session.delete(timer)
        return 0
    props = mail.properties(session, row)
    sent = 0
    if mail.config.enabled:
        for user in task_recipients(session, row):
            send_task_email(session, mail, "reminder", row, user, props, now)
            sent += 1
    timer.due_at = next_reminder(timer.due_at, props.get("reminderEvery"), now)
    timer.attempts, timer.last_error, timer.lease_owner, timer.lease_until = 0, None, None, None
    return sent


def fire_escalation(
    session: Session, mail: MailContext, timer_id: int, now: datetime, hold_lease: Callable[[], bool]
) -> int | None:
    """Notify the next level about an overdue task and reassign it if the process says so; emails
    queued, or None when `hold_lease()` says the timer's lease is no longer ours (roll back).

    Lock order, instance first, always: a reassignment is recorded (`record_change`: the
    instance's version lock and the `task_escalated` event) before `hold_lease` re-takes and
    row-locks the timer; only then does anything else change. A reassignment decided on a stale
    read loses the version lock (ConcurrentUpdate) and is tried again in the next round.
    """
    timer = session.get(Timer, timer_id)
    row = _open_task_of(session, timer) if timer is not None else None
    props = mail.properties(session, row) if row is not None else {}
    role = (props.get("escalateTo") or "").strip()
    to_person = props.get("reassignOnEscalation", "").strip().lower() == "true"
    target = escalation_target(session, row) if row is not None else None
    previous = row.claimed_by or row.assignee if row is not None else None
    reassigned = row is not None and bool(role or (to_person and target is not None))
    if reassigned:
        assert row is not None
        record_change(
            session,
            row.instance,
            at=now,
            actor=SYSTEM_ACTOR,
            action="task_escalated",
            task=row,
            details={
                "from": previous.username if previous is not None else None,
                "to_role": role or None,
                "to": target.username if target is not None and not role else None,
            },
        )
    if not hold_lease():
        return None
    timer = session.get(Timer, timer_id, populate_existing=True)
    if timer is not None:
        session.delete(timer)  # an escalation happens once
    if row is None:
        return 0
    if reassigned:
        if role:
            row.role, row.assignee_id, row.claimed_by_id = role, None, None
        elif target is not None:
            row.assignee_id, row.claimed_by_id = target.id, None
        session.flush()
        session.refresh(row)
    if not mail.config.enabled:
        return 0
    people = {u.id: u for u in task_recipients(session, row)} if reassigned else {}
    if target is not None and target.email and target.active:
        people.setdefault(target.id, target)
    extra = {"escalated_from": previous.display_name if previous is not None else "", "reassigned": reassigned}
    for user in people.values():
        send_task_email(session, mail, "escalation", row, user, props, now, **extra)
    return len(people)


def task_reassigned(session: Session, mail: MailContext, row: TaskRecord, target: User | None, now: datetime) -> None:
    """Tell the new holder (or the queue) about a reassigned task, as for a new task."""
    if not mail.config.enabled:
        return
    props = mail.properties(session, row)
    for user in [target] if target is not None else task_recipients(session, row):
        send_task_email(session, mail, "new_task", row, user, props, now)
