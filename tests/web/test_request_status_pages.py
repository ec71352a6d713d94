"""The status a requester understands on the request page, in "Requests I started" and in the
register, in English and French (item 4 of issue 18): never "running" after a step is done."""

from __future__ import annotations

from engine.models import TaskRecord
from tests.workflows.test_conference_attendance import KEY, conference_request


def started(app, engine) -> int:
    with app.extensions["waypoint.db"].transaction() as s:
        return engine.start(s, KEY, conference_request(), "jdoe").id


def complete(app, engine, iid: int, element: str, who: str, data: dict) -> None:
    with app.extensions["waypoint.db"].transaction() as s:
        row = s.query(TaskRecord).filter_by(instance_id=iid, element_id=element, status="ready").one()
        engine.complete(s, row.id, who, data)


def french(browser):
    browser.post("/language", {"lang": "fr", "next": "/inbox"})
    return browser


def test_pending_then_returned_on_every_page_in_both_languages(app, engine, as_user):
    iid = started(app, engine)
    jdoe = as_user("jdoe")
    page = jdoe.get(f"/requests/{iid}").text
    assert '<span class="badge request-status tone-pending">Pending approval by Marc Smith</span>' in page
    assert ">running<" not in page

    complete(
        app,
        engine,
        iid,
        "UserTask_supervisor_review",
        "msmith",
        {"supervisor_decision": "return", "supervisor_comment": "Lodging?"},
    )
    returned = '<span class="badge request-status tone-returned">Returned for changes</span>'
    assert returned in jdoe.get(f"/requests/{iid}").text
    assert returned in jdoe.get("/inbox?tab=started").text
    coordinator = as_user("cgagnon").get("/requests").text  # the ITV coordinator reads French
    assert '<span class="badge request-status tone-returned">Renvoyée pour modifications</span>' in coordinator
    assert returned in as_user("admin").get("/requests").text

    fr = french(as_user("jdoe"))
    assert "Renvoyée pour modifications" in fr.get(f"/requests/{iid}").text
    assert "Renvoyée pour modifications" in fr.get("/inbox?tab=started").text


def test_withdrawn_and_french_defaults(app, engine, as_user):
    iid = started(app, engine)
    fr = french(as_user("jdoe"))
    assert "En attente d’approbation par Marc Smith" in fr.get(f"/requests/{iid}").text
    with app.extensions["waypoint.db"].transaction() as s:
        engine.cancel(s, iid, "jdoe", "Plans changed")
    assert '<span class="badge request-status tone-withdrawn">Retirée</span>' in fr.get(f"/requests/{iid}").text
    assert "tone-withdrawn\">Withdrawn</span>" in as_user("admin").get(f"/requests/{iid}").text  # English
