"""A small approval process (gateway, boundary timer, message) walked end to end, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import (
    AmbiguousMessage,
    InvalidState,
    NotFound,
    PermissionDenied,
    ScriptError,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
    ValidationFailed,
)
from engine.models import AuditEvent, MessageSubscription, ProcessInstance, TaskRecord, Timer
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES

SMALL = FIXTURES / "small"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [SMALL], deployed_by="admin")
    return people


def start(db, engine, data=None, user="jdoe"):
    with db.transaction() as s:
        return engine.start(s, "small_approval", data or {"title": "Laptop", "amount": 1000}, user).id


def open_tasks(db, instance_id):
    with db.reading() as s:
        return [
            (t.id, t.element_id, t.role, t.assignee.username if t.assignee else None)
            for t in list_tasks(s, instance_id=instance_id)
        ]


def show(db, instance_id):
    with db.reading() as s:
        return instance_view(s, instance_id)


def test_approve_path_waits_for_message_then_ends(deployed, engine):
    db = deployed
    iid = start(db, engine)
    [(task_id, element, role, assignee)] = open_tasks(db, iid)
    assert (element, role, assignee) == ("Task_review", "supervisor", "msmith")  # jdoe's manager

    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "approve", "comment": "fine"})
    view = show(db, iid)
    assert view["status"] == "running"
    assert view["data"]["total"] == 1130.0 and view["data"]["order_ref"] == f"PO-{iid}"
    with db.reading() as s:
        sub = s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == iid)).one()
        assert sub.message_name == "payment_confirmed"
        assert s.scalar(select(func.count()).select_from(Timer)) == 0  # boundary timer gone with the task

    with db.transaction() as s:
        engine.deliver_message(s, "payment_confirmed", {"order_ref": f"PO-{iid}", "paid": 1130})
    view = show(db, iid)
    assert (view["status"], view["outcome"]) == ("completed", "Approved")
    assert view["data"]["payment"] == {"order_ref": f"PO-{iid}", "paid": 1130}
    assert [e["action"] for e in view["audit"]] == ["started", "task_completed", "message_received", "ended"]
    assert view["audit"][1]["details"]["decision"] == "approve"
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(MessageSubscription)) == 0


def test_reject_path_ends_rejected(deployed, engine):
    db = deployed
    iid = start(db, engine)
    [(task_id, *_)] = open_tasks(db, iid)
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "reject", "comment": "no budget"})
    view = show(db, iid)
    assert (view["status"], view["outcome"]) == ("completed", "Rejected")
    assert view["tasks"][0]["completed_by"] == "msmith"


def test_boundary_timer_escalates_after_three_days(deployed, engine, clock):
    db = deployed
    iid = start(db, engine)
    [(review_id, *_)] = open_tasks(db, iid)
    with db.reading() as s:
        timer = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).one()
        assert timer.due_at == clock.now() + timedelta(days=3)
        assert engine.due_timers(s) == []

    clock.advance(days=3, seconds=1)
    with db.reading() as s:
        due = [t.id for t in engine.due_timers(s)]
    assert due == [timer.id]
    with db.transaction() as s:
        assert engine.fire_timer(s, timer.id) is True
    with db.transaction() as s:  # firing again is a no-op: the row is gone
        assert engine.fire_timer(s, timer.id) is False

    [(task_id, element, role, assignee)] = open_tasks(db, iid)
    assert (element, role, assignee) == ("Task_escalated_review", "senior_management", None)
    with db.reading() as s:
        assert s.get(TaskRecord, review_id).status == "cancelled"
    with db.transaction() as s:
        engine.complete(s, task_id, "dlee", {"decision": "reject"})
    view = show(db, iid)
    assert view["outcome"] == "Rejected"
    assert "timer_fired" in [e["action"] for e in view["audit"]]


def test_timer_not_yet_due_does_nothing(deployed, engine, clock):
    db = deployed
    iid = start(db, engine)
    with db.reading() as s:
        timer_id = s.scalars(select(Timer.id).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).one()
    clock.advance(days=2)
    with db.transaction() as s:
        assert engine.fire_timer(s, timer_id) is False
    assert open_tasks(db, iid)[0][1] == "Task_review"


def test_message_early_wrong_or_ambiguous(deployed, engine):
    db = deployed
    iid = start(db, engine)
    with pytest.raises(NotFound):  # nobody waits yet: the review is still open
        with db.transaction() as s:
            engine.deliver_message(s, "payment_confirmed", {"order_ref": f"PO-{iid}"})
    [(task_id, *_)] = open_tasks(db, iid)
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "approve"})
    with pytest.raises(NotFound):
        with db.transaction() as s:
            engine.deliver_message(s, "payment_confirmed", {"order_ref": "PO-999"})
    with pytest.raises(NotFound):
        with db.transaction() as s:
            engine.deliver_message(s, "no_such_message", {"order_ref": f"PO-{iid}"})
    # explicit correlation works too
    with db.transaction() as s:
        engine.deliver_message(
            s, "payment_confirmed", {"order_ref": f"PO-{iid}"}, correlation={"order_ref": f"PO-{iid}"}
        )
    assert show(db, iid)["status"] == "completed"


def test_ambiguous_message_is_refused(deployed, engine):
    db = deployed
    ids = []
    for _ in range(2):
        iid = start(db, engine)
        [(task_id, *_)] = open_tasks(db, iid)
        with db.transaction() as s:
            engine.complete(s, task_id, "msmith", {"decision": "approve"})
        ids.append(iid)
    with pytest.raises(AmbiguousMessage) as info:
        with db.transaction() as s:
            s.execute(MessageSubscription.__table__.update().values(correlation='{"order_ref":"same"}'))
            engine.deliver_message(s, "payment_confirmed", {}, correlation={"order_ref": "same"})
    assert str(ids[0]) in str(info.value) and str(ids[1]) in str(info.value)


def test_permissions(deployed, engine):
    db = deployed
    iid = start(db, engine)
    [(task_id, *_)] = open_tasks(db, iid)
    for user, error in [
        ("jdoe", PermissionDenied),  # own request: no self-approval
        ("fchan", PermissionDenied),  # other role
        ("dlee", PermissionDenied),  # a supervisor, but not the assignee
        ("nobody", NotFound),
    ]:
        with pytest.raises(error):
            with db.transaction() as s:
                engine.complete(s, task_id, user, {"decision": "approve"})
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).status == "ready"


def test_queue_claim_release(deployed, engine):
    db = deployed
    iid = start(db, engine, user="dlee")  # dlee has no manager: the review goes to the queue
    [(task_id, _, role, assignee)] = open_tasks(db, iid)
    assert (role, assignee) == ("supervisor", None)
    with pytest.raises(PermissionDenied):  # dlee is a supervisor but started it
        with db.transaction() as s:
            engine.claim(s, task_id, "dlee")
    with db.transaction() as s:
        engine.claim(s, task_id, "msmith")
    with db.transaction() as s:  # claiming twice is harmless
        engine.claim(s, task_id, "msmith")
    with db.reading() as s:
        assert [t.id for t in list_tasks(s, user="msmith")] == [task_id]
    with pytest.raises(PermissionDenied):
        with db.transaction() as s:
            engine.release(s, task_id, "fchan")
    with db.transaction() as s:
        engine.release(s, task_id, "msmith")
    with pytest.raises(InvalidState):
        with db.transaction() as s:
            engine.release(s, task_id, "msmith")
    with db.transaction() as s:
        engine.claim(s, task_id, "msmith")
    from engine.people.users import add_user

    with db.transaction() as s:
        add_user(s, "sup2", now=engine.clock.now(), roles=["supervisor"])
    with pytest.raises(TaskAlreadyClaimed):
        with db.transaction() as s:
            engine.complete(s, task_id, "sup2", {"decision": "approve"})
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "reject"})
    with pytest.raises(TaskAlreadyCompleted):
        with db.transaction() as s:
            engine.claim(s, task_id, "msmith")
    actions = [e["action"] for e in show(db, iid)["audit"]]
    assert actions.count("task_claimed") == 2 and actions.count("task_released") == 1


def test_form_validation_and_unknown_fields(deployed, engine):
    db = deployed
    with pytest.raises(ValidationFailed) as info:
        start(db, engine, {"title": "", "amount": -5})
    fields = [path for path, _ in info.value.errors]
    assert "title" in fields and "amount" in fields
    with pytest.raises(ValidationFailed):  # missing required amount
        start(db, engine, {"title": "x"})
    with pytest.raises(ValidationFailed) as info:  # a field the form does not declare
        start(db, engine, {"title": "x", "amount": 1, "total": 0})
    assert info.value.errors == [("total", "this form has no such field")]
    with pytest.raises(ValidationFailed):  # reserved engine field
        start(db, engine, {"title": "x", "amount": 1, "requester": "dlee"})
    iid = start(db, engine)
    [(task_id, *_)] = open_tasks(db, iid)
    with pytest.raises(ValidationFailed):
        with db.transaction() as s:
            engine.complete(s, task_id, "msmith", {"decision": "maybe"})
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 1
        assert s.get(TaskRecord, task_id).status == "ready"


def test_cancel(deployed, engine):
    db = deployed
    iid = start(db, engine)
    with pytest.raises(PermissionDenied):
        with db.transaction() as s:
            engine.cancel(s, iid, "msmith")
    with db.transaction() as s:
        engine.cancel(s, iid, "jdoe", "changed my mind")
    view = show(db, iid)
    assert view["status"] == "cancelled"
    assert [t["status"] for t in view["tasks"]] == ["cancelled"]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 0
    with pytest.raises(InvalidState):
        with db.transaction() as s:
            engine.cancel(s, iid, "admin")


def test_old_instances_stay_on_their_version(deployed, engine, tmp_path):
    db = deployed
    old = start(db, engine)
    changed = tmp_path / "small"
    import shutil

    shutil.copytree(SMALL, changed)
    bpmn = changed / "small_approval.bpmn"
    bpmn.write_text(bpmn.read_text().replace('name="Supervisor review"', 'name="Manager review"'))
    with db.transaction() as s:
        [result] = engine.deploy(s, [changed])
    assert (result.version, result.created) == (2, True)
    new = start(db, engine)
    assert open_tasks(db, old)[0][1] == open_tasks(db, new)[0][1] == "Task_review"
    with db.reading() as s:
        names = {t.instance_id: t.name for t in list_tasks(s)}
        assert names == {old: "Supervisor review", new: "Manager review"}
        assert s.get(ProcessInstance, old).definition.version == 1
        assert s.get(ProcessInstance, new).definition.version == 2
    old_task = open_tasks(db, old)[0][0]
    with db.transaction() as s:
        engine.complete(s, old_task, "msmith", {"decision": "reject"})
    assert show(db, old)["outcome"] == "Rejected"


def test_script_failure_at_start_leaves_no_trace(deployed, engine):
    db = deployed
    with pytest.raises(ScriptError) as info:  # an integer too big for float() breaks the script
        with db.transaction() as s:
            engine.start(s, "small_approval", {"title": "x", "amount": 10**400}, "jdoe")
    assert str(info.value).startswith("step 'Compute total': OverflowError")
    with pytest.raises(ValidationFailed):  # 1e400 parses as infinity: not plain JSON
        with db.transaction() as s:
            engine.start(s, "small_approval", {"title": "x", "amount": float("inf")}, "jdoe")
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
