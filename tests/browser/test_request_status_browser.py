"""In Chromium: the request's status badge and "the request so far" grouped by step (issue 18
items 4 and 10), for the English requester and the French-speaking ITV coordinator."""

from __future__ import annotations

import pytest

from engine.models import TaskRecord
from tests.workflows.test_conference_attendance import conference_request

pytestmark = pytest.mark.browser


def returned_request(live) -> int:  # type: ignore[no-untyped-def]
    with live.db.transaction() as s:
        iid = live.engine.start(s, "conference_attendance", conference_request(event_name="Badge Forum"), "jdoe").id
    with live.db.transaction() as s:
        row = s.query(TaskRecord).filter_by(instance_id=iid, element_id="UserTask_supervisor_review").one()
        decision = {"supervisor_decision": "return", "supervisor_comment": "Split the lodging"}
        live.engine.complete(s, row.id, "msmith", decision)
    return iid


def test_status_and_the_request_so_far_in_both_languages(open_page, live):  # type: ignore[no-untyped-def]
    iid = returned_request(live)
    jdoe = open_page("jdoe")
    jdoe.goto(f"{live.url}/requests/{iid}")
    assert jdoe.inner_text(".facts .request-status") == "Returned for changes"
    steps = jdoe.locator(".so-far-step")
    assert steps.count() == 2
    review = steps.nth(1).inner_text()
    assert "Supervisor review" in review and "Marc Smith" in review and "Split the lodging" in review
    assert "Return for changes" in review

    coordinator = open_page("cgagnon")  # reads French
    coordinator.goto(f"{live.url}/requests?q=Badge%20Forum")
    assert coordinator.inner_text("#register-table .request-status") == "Renvoyée pour modifications"
    coordinator.goto(f"{live.url}/requests/{iid}")
    assert "Examen par le superviseur" in coordinator.locator(".so-far-step").nth(1).inner_text()
