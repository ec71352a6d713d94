"""French names of steps come from the engine, by element id: two elements that share an English
name keep their own French on the pages."""

from __future__ import annotations

from flask_babel import refresh

from engine.queries.names import french_names
from tests.designer.conftest import conference
from tests.web.conftest import task_ids
from tests.web.test_i18n import CONFERENCE

KEY = "conference_attendance"
#: the start event (before the supervisor's task in the file) takes the supervisor task's English name
SAME_ENGLISH = (
    '<bpmn:startEvent id="StartEvent_request" name="Conference request submitted">',
    '<bpmn:startEvent id="StartEvent_request" name="Supervisor review">',
)


def test_two_steps_with_one_english_name_keep_their_own_french(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        [result] = engine.deploy(s, sources=conference(**{f"{KEY}.bpmn": SAME_ENGLISH}), deployed_by="admin")
        assert result.created
        instance_id = engine.start(s, KEY, CONFERENCE, "lokafor").id
        names = french_names(s, engine.specs)[KEY]
    assert names.name("Supervisor review", "UserTask_supervisor_review") == "Examen par le superviseur"
    assert names.name("Supervisor review", "StartEvent_request") == "Demande de participation à une conférence soumise"

    cgagnon = as_user("cgagnon")  # lokafor's manager; her pages are in French
    inbox = cgagnon.get("/inbox")
    assert '<td data-label="Étape">Examen par le superviseur</td>' in inbox.text
    [task_id] = task_ids(inbox.text)
    page = cgagnon.get(f"/tasks/{task_id}").text
    assert "<h1>Examen par le superviseur</h1>" in page
    detail = cgagnon.get(f"/requests/{instance_id}").text
    assert ">Examen par le superviseur</a>" in detail


def test_pages_in_english_keep_the_english_name(app):
    from web.process_text import process_name, task_name

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        refresh()
        assert task_name(KEY, "Supervisor review", "UserTask_supervisor_review") == "Supervisor review"
        assert process_name(KEY, "Conference attendance") == "Conference attendance"
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        refresh()
        assert task_name(KEY, "Supervisor review", "UserTask_supervisor_review") == "Examen par le superviseur"
        assert task_name(KEY, "Renamed in English", "UserTask_supervisor_review") == "Examen par le superviseur"
        assert process_name(KEY, "Conference attendance") == "Participation à une conférence"
