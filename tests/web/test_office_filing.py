"""The office files from the start form (issue 18 item 2): ITV coordinators and admins see two more
fields, file a request for a person and after its dates with a reason the `started` event keeps;
nobody else sees them or gets anything from sending them. The suite's clock reads 2 Nov 2026."""

from __future__ import annotations

import pytest

from engine import audit
from engine.models import ProcessInstance
from tests.web.test_date_rules_pages import PAST

LATE = {**PAST, "office_for": "jdoe", "office_past_dates_reason": "Approved by phone before the trip"}


def _instance(app, instance_id):
    with app.extensions["waypoint.db"].reading() as s:
        instance = s.get(ProcessInstance, instance_id)
        [started] = [e for e in audit.events(s, instance_id) if e.action == "started"]
        return instance.started_by.username, started.actor, dict(started.details)


@pytest.mark.parametrize(
    ("office", "legend"), [("cgagnon", "Déposée par le bureau des voyages"), ("admin", "Filed by the ITV office")]
)
def test_the_office_files_a_past_trip_for_a_person_with_a_reason(app, as_user, office, legend):
    person = as_user(office)
    assert legend in person.get("/requests/new/conference_attendance").text
    done = person.post("/requests/new/conference_attendance", LATE)
    assert done.status_code == 302, done.text[-2000:]
    instance_id = int(done.headers["Location"].rsplit("/", 1)[1])
    requester, actor, details = _instance(app, instance_id)
    assert (requester, actor, details["on_behalf_of"]) == ("jdoe", office, "jdoe")
    assert details["past_dates_reason"] == "Approved by phone before the trip"


def test_without_a_reason_the_office_is_told_the_date_has_passed(app, as_user):
    page = as_user("admin").post("/requests/new/conference_attendance", {**LATE, "office_past_dates_reason": " "})
    assert page.status_code == 400 and "this date has passed" in page.text
    assert 'value="jdoe"' in page.text  # what the office typed is kept


def test_an_unknown_requester_is_refused_next_to_its_field(app, as_user):
    page = as_user("admin").post("/requests/new/conference_attendance", {**LATE, "office_for": "nobody"})
    assert page.status_code == 400 and 'id="f-office_for-error"' in page.text and "nobody" in page.text
    with app.extensions["waypoint.db"].reading() as s:
        assert s.query(ProcessInstance).count() == 0


def test_others_neither_see_the_office_fields_nor_get_anything_from_them(app, as_user):
    jdoe = as_user("jdoe")
    assert 'name="office_past_dates_reason"' not in jdoe.get("/requests/new/conference_attendance").text
    page = jdoe.post("/requests/new/conference_attendance", {**LATE, "office_for": "msmith"})
    assert page.status_code == 400 and "this date has passed" in page.text
    on_time = jdoe.post(
        "/requests/new/conference_attendance", {**LATE, "start_date": "2026-11-09", "end_date": "2026-11-12"}
    )
    assert on_time.status_code == 302
    requester, actor, details = _instance(app, int(on_time.headers["Location"].rsplit("/", 1)[1]))
    assert (
        (requester, actor) == ("jdoe", "jdoe") and "past_dates_reason" not in details and "on_behalf_of" not in details
    )
