"""BPMN events that come from outside an instance or cross between instances.

Message start events: a message nothing waits for starts the newest version of the one process
whose start event catches it. Signals: delivered to every instance waiting on one (an
event-based gateway included) and start every process whose start event catches one; a signal
an instance throws and does not catch itself goes on to every other instance the same way, in the
same transaction. BPMN errors and escalations: a person working on a user task raises one that a
boundary event of that task catches (the task page's action buttons, the API and the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent, ThrowingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import permissions
from engine.audit import SYSTEM_ACTOR
from engine.clock import frozen_time
from engine.core import EngineCore
from engine.definitions import ParsedDefinition
from engine.errors import AmbiguousMessage, ConcurrentUpdate, InvalidState, NotFound, ScriptError
from engine.models import MessageSubscription, ProcessDefinition, ProcessInstance, TaskRecord
from engine.steps import find_task, run_until_waiting, script_errors
from engine.versions import latest_definition
from engine.waits import MESSAGE, SIGNAL, definition_for, subscription_kind, trigger_parts, wait_parts

#: How many signal hops (a signal caught by an instance that throws another) one action may cause.
MAX_SIGNAL_DEPTH = 10
BOUNDARY_KINDS = {"error": ErrorEventDefinition, "escalation": EscalationEventDefinition}


def deliver(task: Any, element_id: str, kind: str, name: str, payload: Mapping[str, Any]) -> bool:
    """Hand event `name` to waiting `task` through the one definition registered under
    `element_id` (an event-based gateway: the first event wins); False when it waits no more."""
    if task.parent is None:  # the request itself: the start of one of its event sub-processes
        starts = [d for e, d in trigger_parts(task.workflow) if e == element_id and subscription_kind(d) == kind]
        if not starts or starts[0].name != name:
            return False
        task.workflow.catch(BpmnEvent(starts[0], dict(payload)))
        return True
    definition = definition_for(task, element_id, kind, name)
    if definition is None or task.state != TaskState.WAITING:
        return False
    task.task_spec.catch(task, BpmnEvent(definition, dict(payload)))
    task.task_spec._update(task)
    return True


@dataclass(frozen=True)
class BoundaryAction:
    """A BPMN error or escalation a person may raise from a user task (a boundary event catches it)."""

    kind: str  # "error" or "escalation"
    code: str
    element_id: str
    name: str


def boundary_actions(task_spec: Any) -> list[BoundaryAction]:
    """The errors and escalations the boundary events attached to `task_spec` catch."""
    split = next((s for s in task_spec.inputs if isinstance(s, BoundaryEventSplit)), None)
    found = []
    for spec in split.outputs if split is not None else []:
        definition = getattr(spec, "event_definition", None)
        for kind, cls in BOUNDARY_KINDS.items():
            if spec is not task_spec and isinstance(definition, cls) and definition.code:
                found.append(BoundaryAction(kind, definition.code, spec.bpmn_id, spec.bpmn_name or spec.bpmn_id))
    return found


class EventActions(EngineCore):
    """Message starts, signals, and errors or escalations raised by people; a part of `Engine`."""

    def start_by_message(
        self, session: Session, name: str, payload: Mapping[str, Any], actor: str = SYSTEM_ACTOR
    ) -> ProcessInstance | None:
        """Start the one process whose start event catches message `name` (None: no process does)."""
        keys = self._start_keys(session, MESSAGE, name)
        if not keys:
            return None
        if len(keys) > 1:
            raise AmbiguousMessage("ambiguous_message_start", name=name, count=len(keys), keys=", ".join(keys))
        instance = self.start(session, keys[0], {})  # type: ignore[attr-defined]
        self._deliver_to(session, instance, MESSAGE, name, payload, actor)
        return instance

    def deliver_signal(self, session: Session, name: str, actor: str = SYSTEM_ACTOR) -> list[ProcessInstance]:
        """Send signal `name` (it carries no data) to every instance waiting on it and start every process
        whose start event catches it; the instances it reached, in id order (none: a signal is broadcast)."""
        return self._broadcast(session, name, {}, actor, exclude=None, depth=0)

    def raise_boundary_event(
        self, session: Session, task_id: str, user: str, kind: str, code: str, data: Mapping[str, Any] | None = None
    ) -> TaskRecord:
        """Raise BPMN error or escalation `code` from open user task `task_id`, as `user`; a boundary
        event of the task must catch it."""
        row, actor = self._open_task(session, task_id, user)
        permissions.check_work(session, actor, row, self.today())
        instance = row.instance
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            task = find_task(wf, row.id)
            if task is None or task.state != TaskState.READY:
                raise ConcurrentUpdate("task_not_waiting", task=row.name)
            chosen = [a for a in boundary_actions(task.task_spec) if a.kind == kind and a.code == code]
            boundary = [t for t in task.parent.children if chosen and t.task_spec.bpmn_id == chosen[0].element_id]
            if not boundary or boundary[0].state != TaskState.WAITING:
                raise InvalidState("no_such_boundary_event", kind=kind, event_code=code, task=row.name)
            task.data.update(dict(data or {}))
            spec = boundary[0].task_spec
            spec.catch(boundary[0], BpmnEvent(spec.event_definition, dict(data or {})))
            spec._update(boundary[0])
            run_until_waiting(wf)
        if task.state != TaskState.READY:  # an interrupting event ended the task; a non-interrupting one did not
            row.completed_by_id, row.completed_at = actor.id, now
        details = {"kind": kind, "code": code, "event": chosen[0].name}
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            actor.username,
            [dict(action=f"{kind}_raised", task=row, details=details)],
        )
        return row

    def task_boundary_actions(self, session: Session, row: TaskRecord) -> list[BoundaryAction]:
        """The errors and escalations a person may raise from open task `row` (its action buttons)."""
        parsed = self.specs.get(session, row.instance.definition)
        for process in [parsed.spec, *parsed.subprocess_specs.values()]:
            spec = process.task_specs.get(row.element_id)
            if spec is not None:
                return boundary_actions(spec)
        return []

    # --- signals crossing instances --------------------------------------------------------------
    def load_workflow(self, instance: ProcessInstance, parsed: ParsedDefinition) -> BpmnWorkflow:
        wf = super().load_workflow(instance, parsed)
        wf.loaded_at = time.time()  # signal throws that complete after this moment are this action's
        return wf

    def _save(
        self,
        session: Session,
        instance: ProcessInstance,
        parsed: ParsedDefinition,
        wf: BpmnWorkflow,
        now: datetime,
        actor: str,
        events: list[dict],
    ) -> list[TaskRecord]:
        wf.bpmn_events = [e for e in wf.bpmn_events if not isinstance(e.event_definition, SignalEventDefinition)]
        created = super()._save(session, instance, parsed, wf, now, actor, events)
        depth = getattr(self, "_signal_depth", 0)
        for name in _signals_thrown(wf) if _throws_signals(parsed) else []:
            # no payload across requests: the library's would be the thrower's whole task data
            self._broadcast(session, name, {}, SYSTEM_ACTOR, instance.id, depth + 1)
        return created

    def _broadcast(
        self, session: Session, name: str, payload: dict, actor: str, exclude: int | None, depth: int
    ) -> list[ProcessInstance]:
        if depth > MAX_SIGNAL_DEPTH:
            raise ScriptError("signal_loop", name=name, depth=MAX_SIGNAL_DEPTH)
        previous, self._signal_depth = getattr(self, "_signal_depth", 0), depth
        try:
            query = select(MessageSubscription.instance_id).where(
                MessageSubscription.kind == SIGNAL, MessageSubscription.message_name == name
            )
            ids = sorted(set(session.scalars(query)) - {exclude})
            reached = [self._instance(session, i) for i in ids]
            for instance in reached:
                self._deliver_to(session, instance, SIGNAL, name, payload, actor)
            for key in self._start_keys(session, SIGNAL, name):
                started = self.start(session, key, {})  # type: ignore[attr-defined]
                self._deliver_to(session, started, SIGNAL, name, payload, actor)
                reached.append(started)
            return reached
        finally:
            self._signal_depth = previous

    def _deliver_to(
        self, session: Session, instance: ProcessInstance, kind: str, name: str, payload: Mapping[str, Any], actor: str
    ) -> None:
        """Deliver a message or signal to each wait of `instance` subscribed to it."""
        subs = list(
            session.scalars(
                select(MessageSubscription).where(
                    MessageSubscription.instance_id == instance.id,
                    MessageSubscription.kind == kind,
                    MessageSubscription.message_name == name,
                )
            )
        )
        if not subs:
            raise NotFound("no_message_waiting", name=name)
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            caught = [
                s
                for s in subs
                if (task := find_task(wf, s.task_id)) and deliver(task, s.element_id, kind, name, payload)
            ]
            if not caught:
                raise ConcurrentUpdate("message_moved_on")
            run_until_waiting(wf)
        action = "message_received" if kind == MESSAGE else "signal_received"
        events = [
            dict(action=action, element=(s.element_id, name), task_id=s.task_id, details={kind: name}) for s in caught
        ]
        self._save(session, instance, parsed, wf, now, actor, events)

    def _start_keys(self, session: Session, kind: str, name: str) -> list[str]:
        """Keys of the processes whose newest version has a start event catching `name`."""
        keys = []
        for key in sorted(set(session.scalars(select(ProcessDefinition.key)))):
            parsed = self.specs.get(session, latest_definition(session, key))
            for spec in parsed.spec.start.outputs:
                if not isinstance(spec, CatchingEvent):
                    continue
                waits = [d for _, d in wait_parts(_SpecTask(spec))]
                if any(subscription_kind(d) == kind and d.name == name for d in waits):
                    keys.append(key)
                    break
        return keys


_THROWS_SIGNALS: dict[tuple[str, str], bool] = {}


def _throws_signals(parsed: ParsedDefinition) -> bool:
    """Whether a version has a signal throw or end event (most do not: their saves skip the scan)."""
    key = (parsed.key, parsed.content_hash)
    if key not in _THROWS_SIGNALS:
        specs = [parsed.spec, *parsed.subprocess_specs.values()]
        _THROWS_SIGNALS[key] = any(
            isinstance(task_spec, ThrowingEvent)
            and isinstance(getattr(task_spec, "event_definition", None), SignalEventDefinition)
            for spec in specs
            for task_spec in spec.task_specs.values()
        )
    return _THROWS_SIGNALS[key]


def _signals_thrown(wf: BpmnWorkflow) -> list[str]:
    """Names of the signals the throw and end events completed by this action threw (a workflow
    created by this action: all of them), whether or not the request caught them itself."""
    since = getattr(wf, "loaded_at", 0.0)
    names = []
    for task in wf.get_tasks(state=TaskState.COMPLETED):
        definition = getattr(task.task_spec, "event_definition", None)
        if (
            isinstance(task.task_spec, ThrowingEvent)
            and isinstance(definition, SignalEventDefinition)
            and task.last_state_change >= since
            and definition.name not in names
        ):
            names.append(definition.name)
    return names


@dataclass
class _SpecTask:
    """Just enough of a task for `wait_parts` to read a spec's events."""

    task_spec: Any
