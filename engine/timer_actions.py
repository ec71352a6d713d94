"""BPMN timers: which are due, and firing one (the worker calls these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine import task_rows
from engine.audit import SYSTEM_ACTOR
from engine.clock import frozen_time
from engine.core import REQUEST_FOR_SAVE, EngineCore
from engine.locking import optimistic_action
from engine.models import ProcessInstance, Timer
from engine.steps import find_task, run_until_waiting, script_errors
from engine.taskindex import BPMN_TIMER
from engine.waits import timer_parts


class TimerActions(EngineCore):
    """Due BPMN timers and firing them; reminders and escalations are engine/mail/notifications.py."""

    def due_timers(self, session: Session, now: datetime | None = None, limit: int = 100) -> list[Timer]:
        """BPMN timers due before `now` (default: the clock), oldest first."""
        moment = now or self.clock.now()
        return list(
            session.scalars(
                select(Timer)
                .where(Timer.kind == BPMN_TIMER, Timer.due_at < moment)
                .order_by(Timer.due_at, Timer.id)
                .limit(limit)
            )
        )

    @optimistic_action
    def fire_timer(self, session: Session, timer_id: int) -> bool:
        """Fire one due timer; False when it is gone, not yet due, or its instance ended.

        Optimistic (engine/locking.py): the timer's scripts run without the write lock."""
        found = _timer_with_instance(session, timer_id)
        if found is None:  # gone; reminders/escalations: engine/mail/notifications.py
            return False
        timer, instance = found
        now = self.clock.now()
        if instance.status != "running":
            session.delete(timer)
            return False
        if timer.due_at >= now:
            return False
        parsed = self.specs.get(session, instance.definition)
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            task = find_task(wf, timer.task_id)
            if task is None or task.state != TaskState.WAITING:
                session.delete(timer)
                return False
            # refresh_timers fires every due timer of the instance: audit each one that fired (a
            # repeating cycle stays waiting, its next time moved on)
            waiting = [t for t in wf.event_manager.tasks.values() if timer_parts(t)]
            before = {t.id: _timer_state(t) for t in waiting}
            wf.refresh_timers()
            fired = [t for t in waiting if _timer_state(t) != before[t.id]]
            if task not in fired:
                return False
            events = [
                dict(
                    action="timer_fired",
                    element=(t.task_spec.bpmn_id, t.task_spec.bpmn_name),
                    task_id=str(t.id),
                    details={"due_at": before[t.id][1]},
                )
                for t in fired
            ]
            run_until_waiting(wf)
        self._save(session, instance, parsed, wf, now, SYSTEM_ACTOR, events)
        return True


_TIMER_WITH_INSTANCE = (  # built once: every timer fired reads it
    select(Timer, ProcessInstance)
    .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
    .where(Timer.id == bindparam("timer_id"), Timer.kind == BPMN_TIMER)
    .options(*REQUEST_FOR_SAVE)
)


def _timer_with_instance(session: Session, timer_id: int) -> tuple[Timer, ProcessInstance] | None:
    """The BPMN timer with its instance, the instance's definition, stored state, requester
    (without roles, as the save reads them) and open task rows (for the save's task index, as
    an action's read keeps them: engine/task_rows.py), in one statement."""
    row = session.execute(_TIMER_WITH_INSTANCE, {"timer_id": timer_id}).unique().first()
    if row is None:
        return None
    task_rows.note_open_rows(session, row[1])
    return row[0], row[1]


def _timer_state(task: Any) -> tuple[Any, str]:
    """A waiting timer's state and due time (a cycle's next time), to tell which ones fired."""
    value = task.internal_data.get("event_value", "")
    return task.state, str(value.get("next", "")) if isinstance(value, dict) else str(value)
