"""An ISO repeating cycle (R3/PT10M) fires exactly three times, ten minutes apart, through the worker's timer rows;
the instance is saved and restored at every firing, on both databases."""

from __future__ import annotations

from datetime import timedelta

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.models import AuditEvent, ProcessInstance, Timer
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES
from tests.engine.test_action_reads import reads_of
from tests.engine.test_short_write import statements


def test_repeating_cycle_runs_three_times(people, engine, clock):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "cycles"], deployed_by="admin")
        iid = engine.start(s, "reminder_cycle", {}, "jdoe").id
    start = clock.now()
    fired = []
    for _ in range(5):
        with db.reading() as s:
            timers = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).all()
        if not timers:
            break
        [timer] = timers
        fired.append(timer.due_at - start)
        clock.set(timer.due_at + timedelta(seconds=1))
        with db.transaction() as s:
            assert engine.fire_timer(s, timer.id) is True
    assert fired == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=30)]
    with db.reading() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == iid)).all()
        assert actions.count("timer_fired") == 3
        [review] = [t for t in list_tasks(s, instance_id=iid) if t.status == "ready"]
        instance = s.get(ProcessInstance, iid)
        wf = engine.load_workflow(instance, engine.definition_for(s, instance))
        reminders = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == "Task_remind"]
        assert len(reminders) == 3  # the reminder path ran once per cycle
    with db.transaction() as s:
        engine.complete(s, review.id, "msmith", {})
    with db.reading() as s:
        view = instance_view(s, iid)
    assert (view["status"], view["data"]["reminded"]) == ("completed", True)


def test_timer_start_event_waits_then_a_message_throw_goes_on(people, engine, clock):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "cycles"], deployed_by="admin")
        iid = engine.start(s, "timer_start", {}, "jdoe").id
    with db.reading() as s:
        [timer] = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).all()
        assert timer.due_at == clock.now() + timedelta(hours=1)
    clock.set(timer.due_at + timedelta(seconds=1))
    with db.transaction() as s:
        assert engine.fire_timer(s, timer.id) is True
    with db.reading() as s:
        view = instance_view(s, iid)
    assert (view["status"], view["outcome"]) == ("completed", "Done")


def test_a_timer_fired_reads_its_requests_open_task_rows_with_the_timer(people, engine, clock):
    """The save compares the workflow with the request's open task rows: they come with the timer
    and its request in one statement, as an action's come with its task (engine/task_rows.py)."""
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "cycles"], deployed_by="admin")
        iid = engine.start(s, "reminder_cycle", {}, "jdoe").id
    with people.reading() as s:
        [timer] = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).all()
        [review] = [t.id for t in list_tasks(s, instance_id=iid) if t.status == "ready"]
    clock.set(timer.due_at + timedelta(seconds=1))
    with statements(people) as seen, people.transaction() as s:
        assert engine.fire_timer(s, timer.id) is True
    assert reads_of(seen, "tasks") == []
    assert "JOIN tasks" in seen[0] or "JOIN tasks" in seen[1]  # with the timer (SQLite: after BEGIN)
    with people.reading() as s:
        assert [t.id for t in list_tasks(s, instance_id=iid) if t.status == "ready"] == [review]
