"""The request page's record forms for message waits: the passport officer records "passport
received" in the browser's language, the traveller only sees what the request waits for; bad input
comes back with its errors and the values typed, and nothing moves. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

from engine.models import TaskRecord
from tests.workflows.test_passport_visa import KEY, documents_request


def waiting_for_passport(app, engine) -> int:
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, KEY, documents_request(current_passport={"held": False}), "jdoe").id
    steps = [
        ("UserTask_prepare_passport_application", "ppatel", {"application_ref": "PPT-9", "application_type": "new"}),
        ("UserTask_supply_passport_documents", "jdoe", {"photos_supplied": True, "application_form_signed": True}),
        (
            "UserTask_submit_passport_application",
            "ppatel",
            {"passport_submitted_on": "2026-11-20", "submission_channel": "courier"},
        ),
    ]
    for element, who, data in steps:
        with db.transaction() as s:
            row = s.query(TaskRecord).filter_by(instance_id=iid, element_id=element, status="ready").one()
            engine.complete(s, row.id, who, data)
    return iid


def open_steps(app, iid: int) -> list[str]:
    with app.extensions["waypoint.db"].reading() as s:
        return [r.element_id for r in s.query(TaskRecord).filter_by(instance_id=iid, status="ready")]


def test_the_officer_records_the_passport_from_the_request_page(app, engine, as_user):
    iid = waiting_for_passport(app, engine)
    traveller = as_user("jdoe").get(f"/requests/{iid}").text
    assert "Waiting for Passport Canada." in traveller and "Record passport received" not in traveller

    officer = as_user("ppatel")
    page = officer.get(f"/requests/{iid}").text
    assert "Waiting for Passport Canada." in page and "Record passport received" in page
    action = re.search(r'action="(/requests/\d+/record/\d+)"', page).group(1)

    bad = officer.post(action, {"passport_number": "dp-1", "expiry_date": "2032-05-01"})
    assert bad.status_code == 400 and 'value="dp-1"' in bad.text and "<details class=\"record\" open>" in bad.text
    assert open_steps(app, iid) == []

    good = {"passport_number": "DP123456", "expiry_date": "2032-05-01"}
    assert as_user("cgagnon").post(action, good).status_code == 403  # sees the request, lacks the role
    assert as_user("msmith").post(action, good).status_code == 404  # may not even see it
    done = officer.post(action, good)
    assert done.status_code == 302
    assert open_steps(app, iid) == ["UserTask_sign_out_passport"]
    after = officer.get(f"/requests/{iid}").text
    assert "Recorded. The request has moved on." in after and "/record/" not in after


def test_the_record_form_speaks_french(app, engine, as_user):
    iid = waiting_for_passport(app, engine)
    with app.extensions["waypoint.db"].transaction() as s:
        from engine.people.users import find_user, set_language

        set_language(s, find_user(s, "ppatel").id, "fr")
    page = as_user("ppatel").get(f"/requests/{iid}").text
    assert "Passeport Canada" in page and "Consigner la réception du passeport" in page
    assert "Numéro de passeport" in page
