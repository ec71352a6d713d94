"""Where a request stands, in words a requester understands, derived from the diagram.

A designer gives a milestone (a task, a catch event, an end event) a `status` property (and
`status_fr`): while the request waits at that element, or once it passed it and nothing newer says
otherwise, that is the request's status ("Returned for changes", "Approved: trip report due after
{date}"). `{date}` is the due date of the step it waits at; `{starts_on}` and `{ends_on}` the
request's dates. `statusTone` (approved, rejected, returned, waiting, pending, closed) colours the
badge when the words alone do not say. Without one, defaults: "Pending approval by <who>" while
someone else holds an open task, "Waiting for <requester>" when the requester does, "Waiting for
<party>" at a message wait (its `waitingFor`), "Waiting until <date>" at a timer; at the end,
"Rejected" for an end event whose name says so, else "Closed"; "Withdrawn" when the requester
cancelled. Read from indexed rows and the audit trail, one query each for a page of requests; a
request that waits at a timer alone has its stored state read for the timer's element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from engine.core import EngineCore
from engine.definitions import ParsedDefinition, element_properties
from engine.models import AuditEvent, MessageSubscription, ProcessInstance, TaskRecord, Timer, User
from engine.taskindex import BPMN_TIMER
from engine.waits import MESSAGE

TONES = ("submitted", "pending", "waiting", "returned", "approved", "rejected", "withdrawn", "closed", "error")
#: audit actions that pass an element (its status, if any, holds until a newer one)
PASSING = ("task_completed", "message_received", "timer_fired")
_REJECTED = re.compile(r"reject|refus", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(date|starts_on|ends_on)\}")


@dataclass(frozen=True)
class RequestStatus:
    """A request's status: a designer's words (`text`) or a default `kind` with its party."""

    tone: str
    #: "designer" (use `text`), or a default: pending_approval, waiting_for_person, waiting_for_party,
    #: waiting_outside, waiting_until, in_progress, rejected, closed, withdrawn, cancelled, error
    kind: str
    text: Mapping[str, str] = field(default_factory=dict)
    who: str | None = None
    role: str | None = None
    party: Mapping[str, str] = field(default_factory=dict)
    on: date | None = None
    dates: Mapping[str, date | None] = field(default_factory=dict)


@dataclass
class _Facts:
    tasks: list[tuple[TaskRecord, str | None]] = field(default_factory=list)
    messages: list[MessageSubscription] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    passed: list[AuditEvent] = field(default_factory=list)


def tone_of(words: str, default: str) -> str:
    """The badge colour an English status implies ("Approved: ..." → approved)."""
    first = words.strip().split(" ", 1)[0].rstrip(":,").lower()
    found = {
        "approved": "approved",
        "rejected": "rejected",
        "refused": "rejected",
        "returned": "returned",
        "waiting": "waiting",
        "pending": "pending",
        "withdrawn": "withdrawn",
        "closed": "closed",
        "submitted": "submitted",
        "cancelled": "withdrawn",
    }
    return found.get(first, default)


def fill(words: str, dates: Mapping[str, str]) -> str:
    """A designer's status with its `{date}`, `{starts_on}`, `{ends_on}` replaced (unknown: left)."""
    return _PLACEHOLDER.sub(lambda m: dates.get(m.group(1)) or m.group(0), words)


def _designer(props: Mapping[str, str], default_tone: str, dates: Mapping[str, date | None]) -> RequestStatus | None:
    english = (props.get("status") or "").strip()
    if not english:
        return None
    text = {"en": english, "fr": (props.get("status_fr") or "").strip() or english}
    tone = props.get("statusTone") or tone_of(english, default_tone)
    return RequestStatus(tone if tone in TONES else default_tone, "designer", text, dates=dates)


class RequestStatuses(EngineCore):
    """The status of one request, or of a page of them (lists: register, "Requests I started")."""

    def request_status(self, session: Session, instance: ProcessInstance) -> RequestStatus:
        return self.request_statuses(session, [instance.id])[instance.id]

    def request_statuses(self, session: Session, ids: Sequence[int]) -> dict[int, RequestStatus]:
        """The status of each request in `ids` (one query per kind of fact, not per request)."""
        if not ids:
            return {}
        instances = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids))).all()
        facts = _facts(session, [i.id for i in instances])
        return {i.id: self._status(session, i, facts.get(i.id, _Facts())) for i in instances}

    def _status(self, session: Session, instance: ProcessInstance, facts: _Facts) -> RequestStatus:
        parsed = self.definition_for(session, instance)
        dates: dict[str, date | None] = {"starts_on": instance.starts_on, "ends_on": instance.ends_on}
        if instance.status == "cancelled":
            cancelled = next((e for e in reversed(facts.passed) if e.action == "cancelled"), None)
            by_requester = (
                cancelled is not None
                and instance.started_by is not None
                and cancelled.actor == instance.started_by.username
            )
            return RequestStatus("withdrawn", "withdrawn" if by_requester else "cancelled")
        if instance.status == "completed":
            return self._ended(parsed, instance, dates)
        if instance.status != "running":
            return RequestStatus("error", "error")
        return self._running(session, parsed, instance, facts, dates)

    def _ended(
        self, parsed: ParsedDefinition, instance: ProcessInstance, dates: dict[str, date | None]
    ) -> RequestStatus:
        end = next(
            (
                s
                for s in parsed.spec.task_specs.values()
                if isinstance(s, EndEvent) and instance.outcome in (s.bpmn_name, s.bpmn_id)
            ),
            None,
        )
        rejected = bool(instance.outcome and _REJECTED.search(instance.outcome))
        tone = "rejected" if rejected else "closed"
        found = _designer(element_properties(parsed, end.bpmn_id), tone, dates) if end is not None else None
        return found or RequestStatus(tone, tone)

    def _running(
        self,
        session: Session,
        parsed: ParsedDefinition,
        instance: ProcessInstance,
        facts: _Facts,
        dates: dict[str, date | None],
    ) -> RequestStatus:
        timers = self._timer_elements(parsed, instance, facts) if not (facts.tasks or facts.messages) else []
        current: list[tuple[str, date | None]] = [
            *((t.element_id, self.office_day(t.due_at)) for t, _ in facts.tasks),
            *((m.element_id, None) for m in facts.messages),
            *timers,
        ]
        for element_id, due in current:
            found = _designer(element_properties(parsed, element_id), "pending", {**dates, "date": due})
            if found:
                return found
        requester = instance.started_by
        others = [(t, n) for t, n in facts.tasks if not _held_by(t, n, requester)]
        if others:
            task, name = others[0]
            return RequestStatus("pending", "pending_approval", who=name, role=None if name else task.role)
        if facts.tasks:
            return RequestStatus("waiting", "waiting_for_person", who=requester.display_name if requester else None)
        if facts.messages:
            props = element_properties(parsed, facts.messages[0].element_id)
            party = {
                "en": props.get("waitingFor") or "",
                "fr": props.get("waitingFor_fr") or props.get("waitingFor") or "",
            }
            return RequestStatus("waiting", "waiting_for_party" if party["en"] else "waiting_outside", party=party)
        for event in reversed(facts.passed):
            found = _designer(element_properties(parsed, event.element_id or ""), "pending", dates)
            if found:
                return found
        if timers:
            return RequestStatus("waiting", "waiting_until", on=timers[0][1])
        return RequestStatus("submitted", "in_progress")

    def _timer_elements(
        self, parsed: ParsedDefinition, instance: ProcessInstance, facts: _Facts
    ) -> list[tuple[str, date | None]]:
        """(element id, due day) of the timers the request waits at, boundary timers left out (read
        from the stored state's task specs: one JSON read, not a workflow load)."""
        if not facts.timers:
            return []
        try:
            state = json.loads(instance.state)
        except ValueError:
            return []
        found: list[tuple[str, date | None]] = []
        for timer in facts.timers:
            element_id = spec_name(state, timer.task_id)
            specs = [parsed.spec, *parsed.subprocess_specs.values()]
            spec = next((p.task_specs[element_id] for p in specs if element_id in p.task_specs), None)
            if spec is not None and not hasattr(spec, "cancel_activity"):  # not a boundary timer
                found.append((element_id, self.office_day(timer.due_at)))
        return found


def spec_name(state: Mapping[str, Any], task_id: str) -> str:
    """The spec name (element id) of task `task_id` in a stored workflow state or its subprocesses."""
    for workflow in [state, *(state.get("subprocesses") or {}).values()]:
        task = (workflow.get("tasks") or {}).get(task_id)
        if task is not None:
            return str(task.get("task_spec") or "")
    return ""


def _held_by(task: TaskRecord, holder: str | None, requester: User | None) -> bool:
    if requester is None:
        return False
    held = task.claimed_by_id or task.assignee_id
    return held == requester.id if held else task.role == "requester"


def _facts(session: Session, ids: list[int]) -> dict[int, _Facts]:
    facts: dict[int, _Facts] = {i: _Facts() for i in ids}
    holder = aliased(User)
    tasks = session.execute(
        select(TaskRecord, holder.display_name)
        .outerjoin(holder, holder.id == func.coalesce(TaskRecord.claimed_by_id, TaskRecord.assignee_id))
        .where(TaskRecord.instance_id.in_(ids), TaskRecord.status == "ready")
        .order_by(TaskRecord.created_at, TaskRecord.id)
    )
    for task, name in tasks:
        facts[task.instance_id].tasks.append((task, name))
    messages = select(MessageSubscription).where(
        MessageSubscription.instance_id.in_(ids), MessageSubscription.kind == MESSAGE
    )
    for sub in session.scalars(messages.order_by(MessageSubscription.id)):
        facts[sub.instance_id].messages.append(sub)
    timers = select(Timer).where(Timer.instance_id.in_(ids), Timer.kind == BPMN_TIMER)
    for timer in session.scalars(timers.order_by(Timer.due_at)):
        facts[timer.instance_id].timers.append(timer)
    events = select(AuditEvent).where(AuditEvent.instance_id.in_(ids), AuditEvent.action.in_([*PASSING, "cancelled"]))
    for event in session.scalars(events.order_by(AuditEvent.instance_id, AuditEvent.seq)):
        facts[event.instance_id].passed.append(event)
    return facts
