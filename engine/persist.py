"""The one write path of a workflow that moved: engine actions, timers, moves between versions.

`save_workflow`, inside the caller's transaction: the state dumped and sealed, the data snapshot,
summary and report facets, and a plan of every row the save writes: ended and outcome, the audit
events, the task index's changes, the timers and emails they cause, recipients found and bodies
rendered (reads and CPU work, before any write: an optimistic action still holds no write lock
here). Then the version lock, the first write (engine/locking.py; a new instance is inserted just
before it under its reserved id), and the plan written: the state, the audit events, the task index, timers
and subscriptions, the timers and emails (`notifications.write_follow_ups`): statements only,
pipelined on PostgreSQL (`engine.db.pipelined`); last the notices that read the trail written
(`notifications.send_notices`). Changes that
leave the workflow alone (claims, escalations, incidents, retention purges...) are
`engine.locking.record_change`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit
from engine.audit import SYSTEM_ACTOR
from engine.db import pipelined, write_changes
from engine.definitions import ParsedDefinition
from engine.glue import GlueRegistry
from engine.locking import claim_instance_id, event_entry, lock_instance
from engine.mail import notifications
from engine.mail.compose import MailContext, person
from engine.models import ProcessInstance, TaskRecord, User
from engine.privacy.vault import Vault, redact
from engine.serialization import SERIALIZER_VERSION, dump
from engine.taskindex import IndexContext, SyncResult, plan_sync, write_sync


class Writer(Protocol):
    """What the write path needs from the engine: the key, the process glue, the mail context and
    the expression evaluator (for task properties)."""

    vault: Vault
    glue: GlueRegistry
    mail: MailContext
    #: the queue of a task whose role nobody but the requester holds (engine/task_owners.py)
    fallback_role: str

    def evaluate(self, expression: str, data: Mapping[str, Any]) -> Any: ...


def save_workflow(
    session: Session,
    engine: Writer,
    instance: ProcessInstance,
    parsed: ParsedDefinition,
    wf: BpmnWorkflow,
    now: datetime,
    actor: str,
    events: list[dict[str, Any]],
) -> list[TaskRecord]:
    """Write a workflow that moved, with its audit `events`; return the task rows it offered.

    Each event: `action`, and optionally `task` (a TaskRecord), `task_id`, `element`
    ((id, name)) and `details`. The instance's definition must already be `parsed`'s.
    """
    instance.state = dump(wf, parsed.personal, engine.vault)
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = now
    data = _snapshot(wf)
    public = redact(data, parsed.personal)  # summary lines and facets never carry personal data
    engine.glue.write_summaries(instance, public, now)
    _apply_facets(instance, engine.glue.facets_for(instance.process_key, public))
    instance.data = engine.vault.seal(data, parsed.personal)
    engine.vault.forget()
    with session.no_autoflush:  # a plan reads and computes; nothing is written before the lock
        plan = _plan(session, engine, instance, parsed, wf, now, actor, events)
    # the CPU work above ran without the write lock; a new instance is inserted under it now
    if not inspect(instance).persistent:
        claim_instance_id(session, instance)
    lock_instance(session, instance)
    with pipelined(session):  # statements whose results nothing reads: one round trip on PostgreSQL
        write_changes(session, [instance.stored_state])  # a new instance's went in with it
        entries = plan.audit + [
            event_entry(instance, now, SYSTEM_ACTOR, e) for e in write_sync(session, plan.index, plan.synced)
        ]
        audit.insert(session, entries)
        notifications.write_follow_ups(session, instance, plan.follow_ups)
    notifications.send_notices(session, engine.mail, instance, wf, now)
    return plan.synced.created


@dataclass
class _Plan:
    """What a save writes once its version check wins, all of it read, computed and rendered before."""

    index: IndexContext
    synced: SyncResult
    audit: list[dict[str, Any]]
    follow_ups: notifications.FollowUps


def _plan(
    session: Session,
    engine: Writer,
    instance: ProcessInstance,
    parsed: ParsedDefinition,
    wf: BpmnWorkflow,
    now: datetime,
    actor: str,
    events: list[dict[str, Any]],
) -> _Plan:
    """The rows of a save, without the write lock: the action's audit events (chained on the head
    the version check will confirm), the task index's changes, and the timers and emails they cause."""
    entries = [event_entry(instance, now, actor, event) for event in events]
    if wf.completed and instance.status == "running":
        instance.status, instance.ended_at, instance.outcome = "completed", now, _outcome(wf)
        ended = dict(action="ended", details={"outcome": instance.outcome})
        entries.append(event_entry(instance, now, SYSTEM_ACTOR, ended))
    _load_starter(session, instance)
    index = IndexContext(instance, parsed, now, _user_ids(session), engine.evaluate, engine.fallback_role)
    synced = plan_sync(session, index, wf)
    closed = synced.closed + [e["task"].id for e in events if e.get("task") is not None and e["task"].status != "ready"]
    follow_ups = notifications.plan_follow_ups(session, engine.mail, instance, parsed, wf, synced, now, closed)
    return _Plan(index, synced, entries, follow_ups)


def _load_starter(session: Session, instance: ProcessInstance) -> None:
    """The requester, without their roles, so that task owners and emails read them without a lazy
    load (one indexed query, or none when the action already loaded them); a new instance's
    `started_by_id`, which its flush would set only after the plan reads it."""
    state = inspect(instance)
    if "started_by" not in state.unloaded:
        if not state.persistent:
            instance.started_by_id = instance.started_by.id if instance.started_by is not None else None
    elif instance.started_by_id is not None:
        set_committed_value(instance, "started_by", person(session, instance.started_by_id))


_USER_ID = select(User.table().c.id).where(User.table().c.username == bindparam("username"))  # Core, built once


def _user_ids(session: Session) -> Callable[[str], int | None]:
    """A username's id: one indexed query for the id alone (not the user with roles), once per action."""
    known: dict[str, int | None] = {}

    def user_id(username: str) -> int | None:
        if username not in known:
            known[username] = session.scalar(_USER_ID, {"username": username})
        return known[username]

    return user_id


def _snapshot(wf: BpmnWorkflow) -> dict[str, Any]:
    """The workflow's current data: the last task's, overlaid with what waiting people see."""
    data: dict[str, Any] = {}
    if wf.last_task is not None:
        data.update(wf.last_task.data)
    for task in wf.get_tasks(state=TaskState.READY, manual=True):
        data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def _apply_facets(instance: ProcessInstance, facets: Mapping[str, Any]) -> None:
    """Copy report facets onto the instance's indexed columns (bad values are left out)."""

    def text(value: Any) -> str | None:
        return str(value)[:100] if value not in (None, "") else None

    def day(value: Any) -> date | None:
        try:
            return date.fromisoformat(str(value)[:10]) if value else None
        except ValueError:
            return None

    instance.country, instance.unit = text(facets.get("country")), text(facets.get("unit"))
    instance.starts_on, instance.ends_on = day(facets.get("starts_on")), day(facets.get("ends_on"))


def _outcome(wf: BpmnWorkflow) -> str | None:
    """The name of the end event the workflow finished at."""
    ends = [
        t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.workflow is wf and isinstance(t.task_spec, EndEvent)
    ]
    if not ends:
        return None
    last = max(ends, key=lambda t: t.last_state_change)
    return last.task_spec.bpmn_name or last.task_spec.bpmn_id
