"""Migrating running instances: a dry run per instance, then each instance in its own transaction;
instances waiting at a task that exists move (audit-logged), those waiting at a removed task stay."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import audit
from engine.designer import move_instances as migration
from engine.designer.drafts import log_of
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, Timer
from engine.taskindex import TASK_REMINDER
from tests.designer.conftest import BPMN, conference, small
from tests.designer.test_diff import SECOND_REVIEW, SECOND_REVIEW_LANE

PURCHASE = {"title": "Laptop", "amount": 100}
V2 = (('name="dueIn" value="P2D"', 'name="dueIn" value="P4D"'), SECOND_REVIEW, SECOND_REVIEW_LANE)
RENAMED = (
    ('<bpmn:userTask id="Task_review"', '<bpmn:userTask id="Task_check"'),
    ("<bpmn:flowNodeRef>Task_review</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>Task_check</bpmn:flowNodeRef>"),
    ('targetRef="Task_review"', 'targetRef="Task_check"'),
    ('sourceRef="Task_review"', 'sourceRef="Task_check"'),
    ('attachedToRef="Task_review"', 'attachedToRef="Task_check"'),
)


def open_tasks(db, instance_id):
    with db.reading() as s:
        return list(
            s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready"))
        )


def state_of(db, instance_id):
    with db.reading() as s:
        i = s.get(ProcessInstance, instance_id)
        return i.definition.version, i.version, i.state, i.audit_seq


@pytest.fixture
def running(people, engine, clock):
    """Small process v1: A waits at the supervisor review, B (approved) waits for the payment message."""
    with people.transaction() as s:
        engine.deploy(s, sources=small(), deployed_by="admin")
        a = engine.start(s, "small_approval", PURCHASE, "jdoe").id
        b = engine.start(s, "small_approval", PURCHASE, "jdoe").id
    [review] = open_tasks(people, b)
    with people.transaction() as s:
        engine.complete(s, review.id, "msmith", {"decision": "approve"})
    clock.advance(hours=2)
    return a, b


def deploy(db, engine, sources):
    with db.transaction() as s:
        [result] = engine.deploy(s, sources=sources, deployed_by="ddesigner")
    return result


def test_dry_run_lists_waiting_steps_and_effects_and_writes_nothing(people, engine, running):
    a, b = running
    before = [state_of(people, i) for i in running]
    target = deploy(people, engine, small(*V2))
    with people.reading() as s:
        plans = {p.instance_id: p for p in migration.dry_run(engine, s, s.get(ProcessDefinition, target.definition_id))}
    assert [state_of(people, i) for i in running] == before
    assert plans[a].can_move and plans[b].can_move
    assert [(w["element"], w["exists"], w["changed"]) for w in plans[a].waiting] == [
        ("Task_review", True, ["extensions", "outputs"]),
        ("Timer_review_late", True, []),
    ]
    assert "stays at 'Supervisor review' (its properties, outgoing flows changed)" in plans[a].effects
    assert [w["element"] for w in plans[b].waiting] == ["Event_payment"]
    assert any("already past 'Supervisor review'" in e for e in plans[b].effects)


def test_instances_at_a_task_that_exists_move_and_follow_the_new_version(people, engine, running, clock):
    a, b = running
    [review] = open_tasks(people, a)
    target = deploy(people, engine, small(*V2))
    report = migration.migrate_instances(engine, people, target.definition_id, "ddesigner")
    assert sorted(p.instance_id for p in report.moved) == [a, b] and report.left == []

    [moved] = open_tasks(people, a)
    assert moved.id == review.id and moved.assignee_id == review.assignee_id  # the same task, still msmith's
    assert moved.due_at - moved.created_at == (review.due_at - review.created_at) * 2  # P2D → P4D
    with people.reading() as s:
        instance = s.get(ProcessInstance, a)
        assert instance.definition.version == 2
        last = audit.events(s, a)[-1]
        assert (last.action, last.actor, last.details["from_version"], last.details["to_version"]) == (
            "migrated",
            "ddesigner",
            1,
            2,
        )
        assert audit.verify(s, instance) == []
        reminder = s.scalars(select(Timer).where(Timer.task_id == review.id, Timer.kind == TASK_REMINDER)).one()
        assert reminder.due_at == moved.due_at
        [entry] = log_of(s, "small_approval")
        assert (entry.action, entry.version, entry.details["moved"]) == ("migrate", 2, [a, b])

    with people.transaction() as s:  # the new version's path: a second review after the first
        engine.complete(s, review.id, "msmith", {"decision": "approve"})
    assert [t.element_id for t in open_tasks(people, a)] == ["Task_second"]
    with people.transaction() as s:  # the instance past the review still gets its message
        engine.deliver_message(s, "payment_confirmed", {"order_ref": f"PO-{b}"})
    with people.reading() as s:
        assert (s.get(ProcessInstance, b).status, s.get(ProcessInstance, b).outcome) == ("completed", "Approved")


def test_an_instance_at_a_removed_task_stays_untouched_and_is_listed(people, engine, running):
    a, b = running
    before = state_of(people, a)
    target = deploy(people, engine, small(*RENAMED))
    with people.reading() as s:
        plans = {p.instance_id: p for p in migration.dry_run(engine, s, s.get(ProcessDefinition, target.definition_id))}
    assert not plans[a].can_move
    assert plans[a].reasons == ["it waits at 'Supervisor review' (Task_review), which the new version does not have"]
    assert plans[a].waiting[0]["exists"] is False

    assert plans[b].reasons == [
        "it has passed 'Supervisor review' (Task_review), which the new version removes (its history would not load)"
    ]

    report = migration.migrate_instances(engine, people, target.definition_id, "ddesigner")
    assert report.moved == [] and [(p.instance_id, p.reasons) for p in report.left] == [
        (a, plans[a].reasons),
        (b, plans[b].reasons),
    ]
    assert state_of(people, a) == before  # not a byte changed, no audit event
    with people.reading() as s:
        [entry] = log_of(s, "small_approval")
        assert entry.details["left"][0] == {"instance": a, "reasons": plans[a].reasons}


def test_only_the_chosen_instances_move(people, engine, running):
    a, b = running
    target = deploy(people, engine, small(*V2))
    report = migration.migrate_instances(engine, people, target.definition_id, "ddesigner", instance_ids=[b])
    assert [p.instance_id for p in report.moved] == [b]
    assert state_of(people, a)[0] == 1 and state_of(people, b)[0] == 2


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the conference is heavy; the rules are database-neutral
def test_a_new_threshold_applied_again_sends_waiting_requests_to_the_director(people, engine):
    request = json.loads((BPMN / "scenarios" / "conference_attendance.json").read_text())["start"]["data"]
    request["costs"] = {"registration": 500, "airfare": 1800, "lodging": 1200, "per_diem": 400, "other": 0}  # $3,900
    with people.transaction() as s:
        engine.deploy(s, sources=conference(), deployed_by="admin")
        kept, reapplied = (engine.start(s, "conference_attendance", request, "jdoe").id for _ in range(2))
    lower = conference(**{"rules/conference_approval_route.dmn": ("&gt;= 5000", "&gt;= 3000")})
    target = deploy(people, engine, lower)
    with people.reading() as s:
        [plan] = [
            p
            for p in migration.dry_run(engine, s, s.get(ProcessDefinition, target.definition_id), True)
            if p.instance_id == reapplied
        ]
    assert "needs_senior_approval: False → True" in plan.effects[0]
    migration.migrate_instances(engine, people, target.definition_id, "ddesigner", [kept])
    migration.migrate_instances(engine, people, target.definition_id, "ddesigner", [reapplied], reapply_rules=True)
    for instance_id in (kept, reapplied):
        for element, user, data in (
            ("UserTask_supervisor_review", "msmith", {"supervisor_decision": "approve"}),
            ("UserTask_finance_review", "fchan", {"finance_decision": "confirm", "cost_centre": "CC-1"}),
        ):
            [task] = [t for t in open_tasks(people, instance_id) if t.element_id == element]
            with people.transaction() as s:
                engine.complete(s, task.id, user, data)
    assert [t.element_id for t in open_tasks(people, kept)] == ["UserTask_register_trip"]
    assert [t.element_id for t in open_tasks(people, reapplied)] == ["UserTask_senior_approval"]
