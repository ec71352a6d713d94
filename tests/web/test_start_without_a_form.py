"""A diagram from Camunda Modeler whose start event has no form (a none start) is started from the
catalogue like any other, by the people of its start lane's role, with an empty start form; its
first task reaches the initiator's inbox. A message start is not offered to people."""

from __future__ import annotations

import re

from engine.people import roles
from tests.conftest import ROOT

ASSIGNMENT = ROOT / "tests" / "engine" / "fixtures" / "assignment"


def test_a_none_start_is_offered_to_its_lane_and_starts_from_the_page(app, engine, as_user):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        engine.deploy(s, [ASSIGNMENT / "camunda" / "contract_review.bpmn"], deployed_by="admin")
    jdoe = as_user("jdoe")
    assert "/requests/new/contract_review" not in jdoe.get("/requests/new").text  # not in its lane yet
    with db.transaction() as s:
        roles.grant(s, "jdoe", "everyone", actor="admin")  # the start event's lane, "Everyone"
    assert "/requests/new/contract_review" in jdoe.get("/requests/new").text
    assert jdoe.get("/requests/new/contract_review").status_code == 200
    started = jdoe.post("/requests/new/contract_review", {})
    assert started.status_code == 302
    instance_id = int(re.search(r"/requests/(\d+)", started.headers["Location"]).group(1))
    assert "Prepare the file" in jdoe.get("/inbox").text  # camunda:assignee="${initiator}"
    assert f"#{instance_id}" in jdoe.get("/inbox").text


def test_the_processes_of_waypoint_still_start_only_through_their_forms(app, as_user):
    catalogue = as_user("jdoe").get("/requests/new").text
    assert "/requests/new/conference_attendance" in catalogue and "/requests/new/passport_visa" in catalogue
