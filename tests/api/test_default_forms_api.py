"""Over the API: a task without a form shows its default form (outcome choices read from the diagram)
and completes with one; a start the library cannot run is a 422 naming the step, and stores nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine.models import ProcessInstance, TaskRecord
from engine.people.roles import grant
from engine.sources import SourceSet
from tests.api.conftest import assert_error
from tests.engine.test_default_forms import diagram
from tests.engine.test_run_errors import MI


def test_a_default_form_over_the_api(api, app):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.deploy(s, sources=SourceSet(files={"legal.bpmn": diagram()}, requested=["legal.bpmn"]))
        grant(s, "msmith", "legal", "admin")
        instance = engine.start(s, "legal_review", {}, "jdoe")
        task_id = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == instance.id)).one()
    msmith = api("msmith")
    detail = msmith.get(f"/tasks/{task_id}").json
    choices = detail["schema"]["properties"]["approved"]["oneOf"]
    assert [(c["const"], c["title"]) for c in choices] == [(True, "Approve"), (False, "Send back")]
    refused = msmith.post(f"/tasks/{task_id}/complete", json={"data": {"approved": "perhaps"}})
    assert_error(refused, 400, "validation_failed")
    done = msmith.post(f"/tasks/{task_id}/complete", json={"data": {"approved": True, "comment": "ok"}})
    assert done.status_code == 200, done.json
    assert done.json["instance"]["status"] == "completed"


def test_a_start_the_library_cannot_run_is_a_422_naming_the_step(api, app, tmp_path: Path):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    text = MI.replace(
        '<bpmn:startEvent id="start" name="Go"/>',
        '<bpmn:startEvent id="start" name="Go"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="forms/start.json"/>'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>",
    ).replace('id="d"', 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d"')
    text = text.replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>")
    text = text.replace('name="Supervisor">', 'name="Requester">', 1)
    text = text.replace(
        "</bpmn:laneSet>",
        '<bpmn:lane id="l2" name="Supervisor"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>',
    )
    form = '{"type": "object", "properties": {"reviewers": {"type": "array", "items": {"type": "string"}}}}'
    with db.transaction() as s:
        engine.deploy(s, sources=SourceSet(files={"mi.bpmn": text, "forms/start.json": form}, requested=["mi.bpmn"]))
        before = s.scalar(select(func.count()).select_from(ProcessInstance))
    refused = api("jdoe").post("/instances", json={"process": "mi", "data": {}})
    error = assert_error(refused, 422)
    assert "step 'review'" in error["message"] and "reviewers" in error["message"]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == before
