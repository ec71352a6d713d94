"""Keeps the SQL side tables in step with a workflow after every action.

After the engine acts, `sync_all` brings three tables level with what the workflow says:
the task index (READY user/manual tasks, who may do them, when they are due), the timer
table (each waiting BPMN timer's due time) and message subscriptions (each waiting message
catch event with the correlation values it expects). Queues read these tables only.
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
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import permissions, task_owners
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
    """What syncing changed in the task index: rows offered now, and ids of rows just closed."""

    created: list[TaskRecord]
    closed: list[str]
    #: audit events of what syncing did (a task sent to the fallback queue), for the write path to append
    events: list[dict] = field(default_factory=list)


def sync_all(session: Session, ctx: IndexContext, wf: BpmnWorkflow) -> SyncResult:
    """Update task index, timers and subscriptions to what the workflow says.

    Timers and subscriptions are rewritten only when the instance's waits changed: their
    signature is kept on the instance row, so most actions skip those two queries.
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
        sync_timers(session, ctx, timers)
        sync_subscriptions(session, ctx, subscriptions)
        ctx.instance.waits = signature
    return result


def _signature(timers: Mapping[str, datetime], subscriptions: Mapping[str, tuple]) -> str:
    if not timers and not subscriptions:
        return ""
    body = canonical(
        {"t": {k: v.isoformat() for k, v in timers.items()}, "s": {k: list(v[1:]) for k, v in subscriptions.items()}}
    )
    return hashlib.sha256(body.encode()).hexdigest()


def sync_tasks(session: Session, ctx: IndexContext, wf: BpmnWorkflow) -> SyncResult:
    instance = ctx.instance
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    open_rows = {
        row.id: row
        for row in session.scalars(
            select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.status == "ready")
        )
    }
    closed = []
    for task_id, row in open_rows.items():
        if task_id not in ready:
            spiff_task = wf.get_task_from_id(UUID(task_id)) if not wf.completed else None
            done = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
            row.status = "completed" if done or row.completed_by_id else "cancelled"
            row.completed_at = row.completed_at or ctx.now
            closed.append(task_id)
    created, events = [], list[dict]()
    for task_id, task in ready.items():
        if task_id in open_rows:
            continue
        created.append(_new_task_row(session, ctx, task_id, task, events))
    return SyncResult(created, closed, events)


def _new_task_row(session: Session, ctx: IndexContext, task_id: str, task: Any, events: list[dict]) -> TaskRecord:
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
    session.add(row)
    events += task_owners.record(session, ctx.instance, row, owners, ctx.now)
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


def sync_timers(session: Session, ctx: IndexContext, due_by_task: Mapping[str, datetime]) -> None:
    existing = {
        t.task_id: t
        for t in session.scalars(select(Timer).where(Timer.instance_id == ctx.instance.id, Timer.kind == BPMN_TIMER))
    }
    for task_id, timer in existing.items():
        if task_id not in due_by_task:
            session.delete(timer)
        elif timer.due_at != due_by_task[task_id]:
            timer.due_at, timer.attempts, timer.lease_until, timer.lease_owner = due_by_task[task_id], 0, None, None
    for task_id, due in due_by_task.items():
        if task_id not in existing:
            session.add(Timer(instance_id=ctx.instance.id, task_id=task_id, kind=BPMN_TIMER, due_at=due, attempts=0))


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


def sync_subscriptions(session: Session, ctx: IndexContext, wanted: Mapping[str, tuple]) -> None:
    existing = {
        f"{s.task_id}/{s.element_id}": s
        for s in session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == ctx.instance.id))
    }

    def same(sub: MessageSubscription, row: tuple) -> bool:
        return (sub.message_name, sub.correlation, sub.retrieval, sub.element_id, sub.kind) == row[1:]

    for key, stale in existing.items():
        if key not in wanted or not same(stale, wanted[key]):
            session.delete(stale)
    for key, row in wanted.items():
        sub = existing.get(key)
        if sub is None or not same(sub, row):
            task, name, correlation, retrieval, element, kind = row
            session.add(
                MessageSubscription(
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
    session.execute(delete(Timer).where(Timer.instance_id == instance_id))
    session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id))
