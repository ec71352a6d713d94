"""What an inbox page reads: the columns its rows show (never a request's workflow state), and the
French names of the processes once per deployment, not once per request."""

from __future__ import annotations

from sqlalchemy import event

from engine.queries.names import french_names
from tests.designer.conftest import conference
from tests.web.conftest import task_ids
from tests.web.test_i18n import CONFERENCE

KEY = "conference_attendance"
SUPERVISOR_FR = '<spiffworkflow:property name="name_fr" value="Examen par le superviseur" />'


def statements_of(app, browser, url: str) -> list[str]:
    seen: list[str] = []

    def tick(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    engine = app.extensions["waypoint.db"].engine
    event.listen(engine, "before_cursor_execute", tick)
    try:
        assert browser.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", tick)
    return seen


def test_inbox_pages_read_no_workflow_state(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.start(s, KEY, CONFERENCE, "lokafor")
    cgagnon, lokafor = as_user("cgagnon"), as_user("lokafor")
    for browser, url in ((cgagnon, "/inbox"), (cgagnon, "/inbox?tab=overdue&q=a"), (lokafor, "/inbox?tab=started")):
        read = statements_of(app, browser, url)
        assert read and not [s for s in read if "instance_states" in s]
    assert len(task_ids(cgagnon.get("/inbox").text)) == 1


def test_french_names_follow_a_new_version(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.start(s, KEY, CONFERENCE, "lokafor")
        assert french_names(s, engine.specs)[KEY].name("", "UserTask_supervisor_review") == "Examen par le superviseur"
    cgagnon = as_user("cgagnon")  # lokafor's manager; her pages are in French
    assert '<td data-label="Étape">Examen par le superviseur</td>' in cgagnon.get("/inbox").text

    renamed = conference(**{f"{KEY}.bpmn": (SUPERVISOR_FR, SUPERVISOR_FR.replace("Examen par le", "Avis du"))})
    with db.transaction() as s:
        [result] = engine.deploy(s, sources=renamed, deployed_by="admin")
        assert result.created
        assert french_names(s, engine.specs)[KEY].name("", "UserTask_supervisor_review") == "Avis du superviseur"
    assert '<td data-label="Étape">Avis du superviseur</td>' in cgagnon.get("/inbox").text


def test_a_search_shorter_than_a_page_is_its_own_total(app, as_user):
    """The rows of a first page that is not full are every match: the search is not run again to count."""
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        for _ in range(2):
            engine.start(s, KEY, CONFERENCE, "lokafor")
    cgagnon = as_user("cgagnon")
    for url, searches in (("/inbox?q=interpol", 1), ("/inbox?q=interpol&per_page=1", 2)):
        read = statements_of(app, cgagnon, url)
        assert len([s for s in read if "lower(process_instances.summary)" in s]) == searches
        assert "2 éléments" in cgagnon.get(url).text
