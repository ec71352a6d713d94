"""The task page of a task without a form: what the request holds so far, a comment, and the outcome
buttons its diagram tests (or a Complete button); a button sets the variable and the gateway follows it."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.models import ProcessInstance, TaskRecord
from engine.people.roles import grant
from engine.sources import SourceSet
from tests.engine.test_default_forms import diagram


def _deploy_and_start(app, engine, text: str) -> str:
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        engine.deploy(s, sources=SourceSet(files={"legal.bpmn": text}, requested=["legal.bpmn"]))
        grant(s, "msmith", "legal", "admin")
        instance = engine.start(s, "legal_review", {"title": "Lease renewal"}, "jdoe")
        return s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)).one().id


def _status(app, task_id: str) -> tuple[str, dict]:
    with app.extensions["waypoint.db"].reading() as s:
        instance = s.get(ProcessInstance, s.get(TaskRecord, task_id).instance_id)
        return instance.status, dict(instance.data or {})


def test_outcome_buttons_set_the_variable(app, as_user, engine):
    task_id = _deploy_and_start(app, engine, diagram())
    msmith = as_user("msmith")
    page = msmith.get(f"/tasks/{task_id}").text
    assert "Lease renewal" in page  # what the request holds so far
    buttons = re.findall(r'<button type="submit" name="approved" value="(\w+)"[^>]*>([^<]+)</button>', page)
    assert buttons == [("True", "Approve"), ("False", "Send back")]
    assert 'name="comment"' in page and 'id="complete"' not in page
    done = msmith.post(f"/tasks/{task_id}", {"approved": "False", "comment": "clause 4"})
    assert done.status_code == 302
    status, data = _status(app, task_id)
    assert status == "completed" and data["approved"] is False and data["comment"] == "clause 4"


def test_a_task_with_nothing_to_choose_has_a_complete_button(app, as_user, engine):
    task_id = _deploy_and_start(app, engine, diagram(yes="amount > 10", no="amount &lt;= 10"))
    msmith = as_user("msmith")
    page = msmith.get(f"/tasks/{task_id}").text
    assert 'id="complete"' in page and 'name="comment"' in page
