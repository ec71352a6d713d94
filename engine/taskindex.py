"""Keeps the SQL side tables in step with a workflow after every action.

After the engine acts, `plan_sync` (before the instance lock: reads and CPU) and `write_sync`
(after it) bring three tables level with what the workflow says: the task index (READY
user/manual tasks, who may do them, when they are due), the timer table (each waiting BPMN
timer's due time) and message subscriptions (each waiting message catch event with the
correlation values it expects). Queues read these tables only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from engine import permissions, task_drafts, task_owners, task_rows
from engine.db import insert_objects, update_by_id, write_changes
from engine.definitions import FORM_PROPERTY, ParsedDefinition, spec_properties
from engine.models import MessageSubscription, ProcessInstance, TaskRecord, Timer
from engine.waits import MESSAGE, subscription_kind, timer_parts, trigger_parts, wait_parts

DEFAULT_DUE = "P5D"
#: The task property naming the variable that tells one task of a multi-instance step from another.
SUBJECT_PROPERTY = "subject"
BPMN_TIMER = "bpmn_timer"
#: Timer kinds kept per open user task by engine/mail/notifications.py (not by `sync_timers`).
TASK_REMINDER = "task_reminder"
TASK_ESCALATION = "task_escalation"


def canonical(mapping: Mapping[str, Any]) -> str:
    """Stable JSON text of a mapping, used as an exact-match key for correlations."""
    return json.dumps(mapping, sort_keys=True, separators=(",", ":"), default=str)


def task_properties(task: Any) -> dict[str, str]:
    """The `spiffworkflow:properties` of a task's spec."""
    return spec_properties(task.task_spec)


def duration_after(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration (calendar-aware for months and years)."""
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)


def due_after(start: datetime, duration: str | None) -> datetime | None:
    """`start` plus a task property's duration; None when it is empty, malformed or not later."""
    if not duration:
        return None
    try:
        moment = duration_after(start, duration)
    except Exception:  # a malformed duration in the BPMN: no such timer rather than a failed action
        return None
    return moment if moment > start else None


@dataclass
class IndexContext:
    """What syncing needs besides the workflow: the row, its version, the time, users."""

    instance: ProcessInstance
    parsed: ParsedDefinition
    now: datetime
    find_user_id: Callable[[str], int | None]
    evaluate: Callable[[str, Mapping[str, Any]], Any]
    #: the queue of a task whose role nobody but the requester holds (engine/task_owners.py)
    fallback_role: str = task_owners.DEFAULT_FALLBACK_ROLE


@dataclass
class SyncResult:
    """What syncing changes: task rows offered now (not yet in the session), ids of rows just closed,
    and the waits to rewrite."""

    created: list[TaskRecord]
    closed: list[str]
    #: the rows of `closed` the session holds (their new status set there), written by `write_sync`
    closed_rows: list[TaskRecord] = field(default_factory=list)
    #: the other rows of `closed`: `id` and the columns `write_sync` writes
    closed_values: list[dict] = field(default_factory=list)
    #: who each created row goes to, by task id
    owners: dict[str, task_owners.Owners] = field(default_factory=dict)
    #: the timer and subscription rows to write, when the instance's waits changed
    waits: WaitChanges | None = None


@dataclass
class WaitChanges:
    """How the instance's BPMN timer and subscription rows change (ids to delete, rows to write)."""

    timers_gone: list[int] = field(default_factory=list)
    #: `id` and the new `due_at` of each timer whose time moved (its retries and lease start over)
    timers_moved: list[dict] = field(default_factory=list)
    timers_new: list[dict] = field(default_factory=list)
    subscriptions_gone: list[int] = field(default_factory=list)
    subscriptions_new: list[dict] = field(default_factory=list)


def plan_sync(session: Session, ctx: IndexContext, wf: BpmnWorkflow) -> SyncResult:
    """What the task index, timers and subscriptions must become to match the workflow: reads and
    CPU only (before the instance lock); `write_sync` writes it. Rows closed are changed in the
    session and new rows made; `write_sync` writes both (engine/task_rows.py).

    Timers and subscriptions are rewritten only when the instance's waits changed: their
    signature is kept on the instance row, so most actions skip those two queries. An instance
    that is no longer running loses them all (`write_sync`).
    """
    result = sync_tasks(session, ctx, wf)
    running = ctx.instance.status == "running" and not wf.completed
    waiting = list(wf.event_manager.tasks.values()) if running else []
    timers = wanted_timers(waiting)
    subscriptions = wanted_subscriptions(ctx, waiting)
    if running:
        subscriptions.update(wanted_triggers(ctx, wf))
    signature = _signature(timers, subscriptions)
    if signature != (ctx.instance.waits or ""):
        if ctx.instance.status == "running":
            result.waits = WaitChanges()
            plan_timers(session, ctx, timers, result.waits)
            plan_subscriptions(session, ctx, subscriptions, result.waits)
        ctx.instance.waits = signature
    return result


def write_sync(session: Session, ctx: IndexContext, result: SyncResult) -> list[dict]:
    """Under the instance lock, Core statements only (the save pipelines them): close the ended
    task rows (their drafts deleted), add the new ones, rewrite the timers and subscriptions
    `plan_sync` found changed, and drop every wait of an instance that is no longer running. A
    new row's candidates and incident are added to the session (flushed after the batch). Returns
    the audit events of what it did (a task sent to the fallback queue)."""
    write_changes(session, result.closed_rows)
    update_by_id(session, TaskRecord.table(), result.closed_values)
    task_drafts.clear(session, result.closed)
    insert_objects(session, result.created)
    events = [
        e
        for row in result.created
        for e in task_owners.record(session, ctx.instance, row, result.owners[row.id], ctx.now)
    ]
    if ctx.instance.status != "running":
        clear_waits(session, ctx.instance.id)
    elif result.waits is not None:
        _write_waits(session, result.waits)
    return events


def _write_waits(session: Session, changes: WaitChanges) -> None:
    for model, gone in ((Timer, changes.timers_gone), (MessageSubscription, changes.subscriptions_gone)):
        if gone:
            session.execute(delete(model.table()).where(model.id.in_(gone)))
    update_by_id(session, Timer.table(), changes.timers_moved)
    for model, rows in ((Timer, changes.timers_new), (MessageSubscription, changes.subscriptions_new)):
        if rows:
            session.execute(insert(model.table()).inline(), rows)  # no id read back


def _signature(timers: Mapping[str, datetime], subscriptions: Mapping[str, tuple]) -> str:
    if not timers and not subscriptions:
        return ""
    body = canonical(
        {"t": {k: v.isoformat() for k, v in timers.items()}, "s": {k: list(v[1:]) for k, v in subscriptions.items()}}
    )
    return hashlib.sha256(body.encode()).hexdigest()


def sync_tasks(session: Session, ctx: IndexContext, wf: BpmnWorkflow) -> SyncResult:
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    open_rows = task_rows.open_before_save(session, ctx.instance)
    result = SyncResult([], [task_id for task_id in open_rows if task_id not in ready])
    for task_id in result.closed:
        spiff_task = wf.get_task_from_id(UUID(task_id)) if not wf.completed else None
        done = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
        _close(session, result, task_id, done, *open_rows[task_id], ctx.now)
    for task_id, task in ready.items():
        if task_id not in open_rows:
            result.created.append(_new_task_row(session, ctx, task_id, task, result))
    return result


def _close(
    session: Session, result: SyncResult, task_id: str, done: bool, by: int | None, at: datetime | None, now: datetime
) -> None:
    """A row whose task ended: completed (by whom the action set, if it did) or cancelled. A row
    the session holds (the action's own task) is changed there; the others are only written."""
    row = session.identity_map.get(identity_key(TaskRecord, task_id))
    if row is not None:
        by, at = row.completed_by_id, row.completed_at
    values: dict[str, Any] = {"status": "completed" if done or by else "cancelled", "completed_at": at or now}
    if row is None:
        result.closed_values.append({"id": task_id, **values})
        return
    row.status, row.completed_at = values["status"], values["completed_at"]
    result.closed_rows.append(row)


def _new_task_row(session: Session, ctx: IndexContext, task_id: str, task: Any, result: SyncResult) -> TaskRecord:
    props = task_properties(task)
    approval = permissions.is_approval(props, ctx.parsed.form(props.get(FORM_PROPERTY)))
    owners = task_owners.owners_for(
        session, ctx.parsed, ctx.instance, task, props, ctx.find_user_id, ctx.fallback_role, approval=approval
    )
    try:
        due_at = duration_after(ctx.now, props.get("dueIn", DEFAULT_DUE))
    except Exception:
        due_at = ctx.now + timedelta(days=5)
    row = TaskRecord(
        id=task_id,
        instance=ctx.instance,  # its emails are written before the row is flushed
        instance_id=ctx.instance.id,
        process_key=ctx.instance.process_key,
        element_id=task.task_spec.bpmn_id,
        name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
        lane=getattr(task.task_spec, "lane", None),
        role=owners.role,
        form=props.get(FORM_PROPERTY),
        assignee_id=owners.assignee_id,
        requester_id=ctx.instance.started_by_id,
        approval=approval and owners.role != "requester",
        subject=task_subject(ctx.parsed, task.data, props.get(SUBJECT_PROPERTY)),
        status="ready",
        created_at=ctx.now,
        due_at=due_at,
    )
    result.owners[task_id] = owners
    return row


def task_subject(parsed: ParsedDefinition, data: Mapping[str, Any], path: str | None) -> str | None:
    """Which one of a multi-instance step a task is: the value at its `subject` property's dotted
    path in the task's data ("member.ref" gives "M2"); None when unset, missing, not a plain value
    or personal (a form marks it `x-personal`/`x-sensitive`): queues never show personal data."""
    if not path or not path.strip():
        return None
    value: Any = data
    parent = None
    for key in path.strip().split("."):
        if not isinstance(value, Mapping) or parsed.personal.covers(parent, key):
            return None
        value, parent = value.get(key), key
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        return None
    return str(value).strip()[:80]


def _timer_due(task: Any, definition: Any) -> datetime | None:
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        value = value["next"]
    try:
        return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def wanted_timers(waiting: list[Any]) -> dict[str, datetime]:
    """Due time of each waiting BPMN timer, by task id (an event-based gateway's timer included)."""
    due_by_task = {}
    for task in waiting:
        for _element, definition in timer_parts(task)[:1]:  # the library keeps one due time per task
            due = _timer_due(task, definition)
            if due is not None:
                due_by_task[str(task.id)] = due
    return due_by_task


def plan_timers(session: Session, ctx: IndexContext, due_by_task: Mapping[str, datetime], out: WaitChanges) -> None:
    """The BPMN timer rows to delete, move and add so that they are `due_by_task` (read, not written)."""
    query = select(Timer.id, Timer.task_id, Timer.due_at).where(
        Timer.instance_id == ctx.instance.id, Timer.kind == BPMN_TIMER
    )
    existing = {task_id: (timer_id, due) for timer_id, task_id, due in session.execute(query)}
    for task_id, (timer_id, due) in existing.items():
        if task_id not in due_by_task:
            out.timers_gone.append(timer_id)
        elif due != due_by_task[task_id]:
            moved = dict(id=timer_id, due_at=due_by_task[task_id], attempts=0, lease_until=None, lease_owner=None)
            out.timers_moved.append(moved)
    out.timers_new += [
        dict(instance_id=ctx.instance.id, task_id=task_id, kind=BPMN_TIMER, due_at=due, attempts=0)
        for task_id, due in due_by_task.items()
        if task_id not in existing
    ]


def expected_correlation(ctx: IndexContext, task: Any, definition: Any) -> tuple[dict, dict]:
    """(values the waiting event expects, retrieval expressions to apply to a payload)."""
    properties = list(getattr(definition, "correlation_properties", []) or [])
    by_process = {p.name: p.retrieval_expression for p in getattr(definition, "process_correlations", []) or []}
    if not properties:
        return {"instance": ctx.instance.id}, {}
    expected, retrieval = {}, {}
    for prop in properties:
        retrieval[prop.name] = prop.retrieval_expression
        try:
            expected[prop.name] = ctx.evaluate(by_process.get(prop.name, prop.retrieval_expression), task.data)
        except Exception:
            expected[prop.name] = None
    return expected, retrieval


def wanted_subscriptions(ctx: IndexContext, waiting: list[Any]) -> dict[str, tuple]:
    """(task, name, expected correlation, retrieval, element, kind) of each waiting message or signal
    event, by "task id/element id" (an event-based gateway waits on several)."""
    wanted = {}
    for task in waiting:
        for element, definition in wait_parts(task):
            kind = subscription_kind(definition)
            if kind == MESSAGE:
                expected, retrieval = expected_correlation(ctx, task, definition)
                row = (task, definition.name, canonical(expected), canonical(retrieval), element, kind)
            elif kind is not None:
                row = (task, definition.name, "{}", "{}", element, kind)
            else:
                continue
            wanted[f"{task.id}/{element}"] = row
    return wanted


def wanted_triggers(ctx: IndexContext, wf: BpmnWorkflow) -> dict[str, tuple]:
    """The message and signal starts of the request's event sub-processes, as `wanted_subscriptions`
    rows on the request's root task (its latest data gives a message its expected correlation)."""
    root, latest = wf.task_tree, wf.last_task or wf.task_tree
    wanted = {}
    for element, definition in trigger_parts(wf):
        kind = subscription_kind(definition)
        correlation = ("{}", "{}")
        if kind == MESSAGE:
            expected, retrieval = expected_correlation(ctx, latest, definition)
            correlation = (canonical(expected), canonical(retrieval))
        wanted[f"{root.id}/{element}"] = (root, definition.name, *correlation, element, kind)
    return wanted


def plan_subscriptions(session: Session, ctx: IndexContext, wanted: Mapping[str, tuple], out: WaitChanges) -> None:
    """The subscription rows to delete and add so that they are `wanted` (read, not written)."""
    sub = MessageSubscription
    columns = (sub.message_name, sub.correlation, sub.retrieval, sub.element_id, sub.kind)
    query = select(sub.id, sub.task_id, *columns).where(sub.instance_id == ctx.instance.id)
    existing = {f"{row[1]}/{row.element_id}": (row[0], tuple(row[2:])) for row in session.execute(query)}
    for key, (sub_id, values) in existing.items():
        if key not in wanted or values != wanted[key][1:]:
            out.subscriptions_gone.append(sub_id)
    for key, row in wanted.items():
        if key not in existing or existing[key][1] != row[1:]:
            task, name, correlation, retrieval, element, kind = row
            out.subscriptions_new.append(
                dict(
                    instance_id=ctx.instance.id,
                    task_id=str(task.id),
                    element_id=element,
                    message_name=name,
                    correlation=correlation,
                    retrieval=retrieval,
                    kind=kind,
                )
            )


def clear_waits(session: Session, instance_id: int) -> None:
    """Drop every timer (reminders included) and subscription of an instance that ended."""
    session.execute(delete(Timer.table()).where(Timer.instance_id == instance_id))
    session.execute(delete(MessageSubscription.table()).where(MessageSubscription.instance_id == instance_id))
