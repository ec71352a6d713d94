"""Reports: "Where requests are waiting" counts requests waiting at a message (the passport office)
and at a timer (a trip's end) with no task open, not only open tasks (issue 18 item 4)."""

from __future__ import annotations

import csv
import io

from engine.models import TaskRecord
from tests.web.test_record_outside_events import waiting_for_passport
from tests.workflows.test_conference_attendance import KEY, REGISTER_NO_DOCUMENTS, conference_request


def at_trip_end(app, engine) -> int:
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, KEY, conference_request(), "jdoe").id
    steps = [
        ("UserTask_supervisor_review", "msmith", {"supervisor_decision": "approve"}),
        ("UserTask_finance_review", "fchan", {"finance_decision": "confirm", "cost_centre": "CC-4410"}),
        ("UserTask_register_trip", "cgagnon", REGISTER_NO_DOCUMENTS),
    ]
    for element, who, data in steps:
        with db.transaction() as s:
            row = s.query(TaskRecord).filter_by(instance_id=iid, element_id=element, status="ready").one()
            engine.complete(s, row.id, who, data)
    return iid


def test_waits_at_messages_and_timers_are_counted(app, engine, as_user, clock):
    waiting_for_passport(app, engine)
    at_trip_end(app, engine)
    clock.advance(days=2)
    page = as_user("dlee").get("/reports").text  # English
    assert 'Wait for passport issuance <span class="badge">outside event</span>' in page
    assert 'Trip ended <span class="badge">until a date</span>' in page
    assert "Nothing is waiting." not in page

    rows = list(csv.DictReader(io.StringIO(as_user("dlee").get("/reports/stuck.csv").text)))
    waits = {(r["step"], r["kind"], r["open"], r["role"]) for r in rows if r["kind"] != "task"}
    assert waits == {
        ("Wait for passport issuance", "message", "1", "passport_officer"),
        ("Trip ended", "timer", "1", ""),
    }
    assert all(float(r["oldest_days"]) >= 2 for r in rows if r["kind"] != "task")

    french = as_user("cgagnon").get("/reports").text  # the ITV coordinator reads French
    assert '<span class="badge">événement extérieur</span>' in french
    assert '<span class="badge">jusqu’à une date</span>' in french
