"""An event sub-process with a message or signal start is reached from outside: the request subscribes to its
start; saved and restored at every wait, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import MessageSubscription
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES


def open_steps(db, iid):
    with db.reading() as s:
        return sorted(t.element_id for t in list_tasks(s, instance_id=iid) if t.status == "ready")


def test_message_and_signal_starts_of_event_sub_processes(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "event_subprocesses"], deployed_by="admin")
        iid = engine.start(s, "event_subprocesses", {}, "jdoe").id
    with db.reading() as s:
        subs = s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == iid)).all()
        assert sorted((sub.kind, sub.message_name, sub.element_id) for sub in subs) == [
            ("message", "esp_note", "Start_note"),
            ("signal", "esp_recall", "Start_recall"),
        ]
    assert open_steps(db, iid) == ["Task_main"]
    with db.transaction() as s:
        engine.deliver_message(s, "esp_note", {"text": "hello"}, {"instance": iid})
    assert open_steps(db, iid) == ["Task_main", "Task_note"]  # non-interrupting: the main work goes on
    with db.transaction() as s:
        assert [i.id for i in engine.deliver_signal(s, "esp_recall")] == [iid]
    # SpiffWorkflow 3.2 runs an event sub-process without interrupting the request (docs/modelling.md)
    assert open_steps(db, iid) == ["Task_main", "Task_note"]
    with db.reading() as s:
        steps = {t.element_id: t.id for t in list_tasks(s, instance_id=iid) if t.status == "ready"}
    for element in ("Task_note", "Task_main"):
        with db.transaction() as s:
            engine.complete(s, steps[element], "msmith", {})
    with db.reading() as s:
        view = instance_view(s, iid)
    actions = [e["action"] for e in view["audit"]]
    assert actions.count("message_received") == 1 and actions.count("signal_received") == 1
    assert view["status"] == "completed"
