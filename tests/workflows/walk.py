"""A Walker: drives one request of a Waypoint process through the engine API, as people and the scheduler would.

Branch tests then read like the business rules they check::

    w.start("jdoe", conference_request(country="Mexico"))
    w.do("UserTask_supervisor_review", "msmith", supervisor_decision="approve")
    w.advance(days=5)                      # fires whatever timers fell due
    assert w.outcome == "Approved, trip report filed"

Every action is its own transaction through the public `Engine` methods (`start`, `complete`,
`deliver_message`, `fire_timer`, `cancel`), so permissions, form validation, cross-field
validators, the task index, timers, message subscriptions and the audit trail are all exercised.
Reading a task's own data (`task_data`, `where=`) rebuilds the workflow from the stored state; that
is the only place the walker looks past the engine's API, and it never writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import TaskNotFoundException
from sqlalchemy import select

from engine import Database, Engine, ManualClock
from engine.models import MessageSubscription, ProcessInstance, Timer
from engine.queries.tasks import instance_view, list_tasks
from engine.taskindex import BPMN_TIMER
from tests.conftest import make_engine

BPMN = Path(__file__).resolve().parents[2] / "bpmn"

#: Picks one of several parallel tasks by its data: {"visa_destination": "China"}, {"member.name": "Omar Aziz"}.
Where = Mapping[str, Any] | None


@dataclass(frozen=True)
class OpenTask:
    """A task as the task index offers it."""

    id: str
    element: str
    name: str
    role: str | None
    assignee: str | None
    status: str
    created_at: datetime
    due_at: datetime | None
    completed_by: str | None


def deploy(db: Database, engine: Engine) -> None:
    """Deploy every process in bpmn/ (one version each) as the admin would."""
    with db.transaction() as s:
        engine.deploy(s, [BPMN], deployed_by="admin")


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _correlation_key(correlation: Mapping[str, Any]) -> str:
    return json.dumps(correlation, sort_keys=True, default=str)


def _task_in(workflow: Any, task_id: str) -> Any:
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except TaskNotFoundException:
        return None


def _matches(where: Where, data: Mapping[str, Any]) -> bool:
    return where is None or all(_lookup(data, key) == value for key, value in where.items())


class Walker:
    """One request of process `key`, walked step by step."""

    def __init__(self, db: Database, engine: Engine, clock: ManualClock, key: str):
        self.db, self.engine, self.clock, self.key = db, engine, clock, key
        self.id: int | None = None

    # --- acting ------------------------------------------------------------------------------
    def start(self, user: str, data: Mapping[str, Any]) -> Walker:
        """File the request as `user` with the start form `data`."""
        with self.db.transaction() as s:
            self.id = self.engine.start(s, self.key, dict(data), user).id
        return self

    def do(self, element: str, user: str, *, where: Where = None, **data: Any) -> OpenTask:
        """Complete the one open task `element` (matching `where`) as `user` with form `data`."""
        return self.complete(self.task(element, where=where), user, **data)

    def complete(self, task: OpenTask, user: str, **data: Any) -> OpenTask:
        """Complete a task already found (e.g. one of several parallel ones) as `user` with form `data`."""
        with self.db.transaction() as s:
            self.engine.complete(s, task.id, user, data)
        return task

    def message(self, name: str, **payload: Any) -> None:
        """Deliver message `name` with `payload`; the engine correlates it (raises NotFound when nobody waits)."""
        with self.db.transaction() as s:
            self.engine.deliver_message(s, name, payload)

    def restart(self) -> None:
        """Carry on with a new Engine (its own spec cache), as after a server restart or in another worker."""
        self.engine = make_engine(clock=self.clock)

    def cancel(self, user: str, reason: str = "") -> None:
        with self.db.transaction() as s:
            self.engine.cancel(s, self._id, user, reason)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> list[str]:
        """Let time pass (a timedelta or timedelta's keywords); return the timers of this request that fired."""
        return self.advance_to(self.clock.now() + (delta if delta is not None else timedelta(**kwargs)))

    def advance_to(self, moment: datetime) -> list[str]:
        """Let time pass until `moment` with a punctual scheduler: each timer fires just after its due time,
        in order, so a timer started by another (reminder, then escalation 5 days later) counts from then."""
        assert moment >= self.clock.now(), f"the clock cannot go back from {self.clock.now()} to {moment}"
        fired: list[str] = []
        for _ in range(100):
            with self.db.reading() as s:
                query = select(Timer.due_at).where(Timer.kind == BPMN_TIMER, Timer.due_at < moment)
                next_due = s.scalar(query.order_by(Timer.due_at).limit(1))
            if next_due is None:
                self.clock.set(moment)
                return fired + self.fire_due_timers()
            self.clock.set(max(self.clock.now(), min(next_due + timedelta(seconds=1), moment)))
            fired += self.fire_due_timers()
        raise AssertionError("timers kept falling due: a timer loop?")

    def fire_due_timers(self) -> list[str]:
        """What the scheduler does: fire each due timer in its own transaction, until none is due."""
        fired: list[str] = []
        for _ in range(20):
            with self.db.reading() as s:
                due = [(t.id, t.instance_id, t.task_id) for t in self.engine.due_timers(s) if t.kind == BPMN_TIMER]
            if not due:
                return fired
            for timer_id, instance_id, task_id in due:
                element = self._element_of(task_id) if instance_id == self.id else None
                with self.db.transaction() as s:
                    done = self.engine.fire_timer(s, timer_id)
                if done and element is not None:
                    fired.append(element)
        raise AssertionError("timers kept falling due: a timer loop?")

    # --- reading -----------------------------------------------------------------------------
    @property
    def _id(self) -> int:
        assert self.id is not None, "start the request first"
        return self.id

    def view(self) -> dict[str, Any]:
        """The request as `waypoint show --json` prints it."""
        with self.db.reading() as s:
            return instance_view(s, self._id)

    @property
    def status(self) -> str:
        return self.view()["status"]

    @property
    def outcome(self) -> str | None:
        """The name of the end event the request finished at (None while it runs)."""
        view = self.view()
        return view["outcome"] if view["status"] != "running" else None

    @property
    def data(self) -> dict[str, Any]:
        """The request's data snapshot, personal fields decrypted."""
        with self.db.reading() as s:
            return self.engine.clear_data(s.get(ProcessInstance, self._id))

    @property
    def summary(self) -> str:
        return self.view()["summary"]

    def tasks(self, status: str | None = "ready") -> list[OpenTask]:
        """Tasks of this request from the task index (default: the open ones)."""
        with self.db.reading() as s:
            rows = list_tasks(s, instance_id=self._id, status=status, limit=1000)
            return [
                OpenTask(
                    id=t.id,
                    element=t.element_id,
                    name=t.name,
                    role=t.role,
                    assignee=t.assignee.username if t.assignee else None,
                    status=t.status,
                    created_at=t.created_at,
                    due_at=t.due_at,
                    completed_by=t.completed_by.username if t.completed_by else None,
                )
                for t in sorted(rows, key=lambda t: (t.created_at, t.element_id, t.id))
            ]

    @property
    def open(self) -> list[str]:
        """Element ids of the open tasks, sorted (one entry per task)."""
        return sorted(t.element for t in self.tasks())

    def task(self, element: str, *, where: Where = None) -> OpenTask:
        """The one open task `element` whose data matches `where` (dotted keys reach into nested data)."""
        candidates = [t for t in self.tasks() if t.element == element]
        if where is not None and candidates:
            workflow = self._workflow()
            candidates = [t for t in candidates if _matches(where, _task_in(workflow, t.id).data)]
        assert len(candidates) == 1, (
            f"expected one open {element} matching {where}, found {len(candidates)}; open: {self.open}"
        )
        return candidates[0]

    def task_data(self, task_id: str) -> dict[str, Any]:
        """The data a task sees (its form is shown over it)."""
        task = self._workflow_task(task_id)
        assert task is not None, f"no task {task_id} in the workflow"
        return dict(task.data)

    def timers(self) -> list[tuple[str, datetime]]:
        """(element, due time) of this request's waiting BPMN timers, soonest first."""
        with self.db.reading() as s:
            query = select(Timer).where(Timer.instance_id == self._id, Timer.kind == BPMN_TIMER)
            rows = [(t.task_id, t.due_at) for t in s.scalars(query)]
        workflow = self._workflow()
        elements = [(_task_in(workflow, task_id).task_spec.bpmn_id, due) for task_id, due in rows]
        return sorted(elements, key=lambda x: (x[1], x[0]))

    def waiting_for(self) -> list[tuple[str, str, dict]]:
        """(element, message name, expected correlation) of this request's message subscriptions."""
        with self.db.reading() as s:
            subs = s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == self._id))
            rows = [(m.element_id, m.message_name, json.loads(m.correlation)) for m in subs]
        return sorted(rows, key=lambda row: (row[0], row[1], _correlation_key(row[2])))

    def history(self, action: str = "task_completed") -> list[str]:
        """Element ids of the audit events of one kind, in order (default: the tasks completed)."""
        return [e["element_id"] for e in self.view()["audit"] if e["action"] == action]

    # --- internals ---------------------------------------------------------------------------
    def _workflow(self) -> Any:
        with self.db.reading() as s:
            instance = s.get(ProcessInstance, self._id)
            parsed = self.engine.definition_for(s, instance)
            return self.engine.load_workflow(instance, parsed)

    def _workflow_task(self, task_id: str) -> Any:
        return _task_in(self._workflow(), task_id)

    def _element_of(self, task_id: str) -> str:
        task = self._workflow_task(task_id)
        return task.task_spec.bpmn_id if task is not None else "?"
