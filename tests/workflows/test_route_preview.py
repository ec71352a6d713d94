"""The route preview of each process (engine/route_preview.py): the approvals a request would go
through, computed by the same decision tables, followed into called processes (a visit's screenings)
and never into escalation paths (a boundary timer's follow-up task is not an approval)."""

from __future__ import annotations

from engine.people.users import find_user
from engine.route_preview import preview_route
from tests.workflows.test_conference_attendance import conference_request
from tests.workflows.test_delegation_visit import visit_request
from tests.workflows.test_passport_visa import documents_request


def _route(deployed, engine, key: str, data: dict, who: str) -> tuple[list[str], str | None]:  # type: ignore[no-untyped-def]
    with deployed.reading() as s:
        route = preview_route(engine, s, key, data, find_user(s, who))
    assert route.complete
    return [a.step for a in route.approvers], route.reason


def test_a_visit_goes_through_each_screening_then_the_host_unit_and_the_itv_office(deployed, engine):
    steps, _ = _route(deployed, engine, "delegation_visit", visit_request(), "lokafor")
    assert steps == ["Screen visitor", "Host unit approval", "ITV approval"]


def test_the_decision_table_adds_the_director_for_a_secure_site(deployed, engine):
    secure = visit_request(sites=[{"name": "Data centre", "sensitivity": 3}])
    steps, reason = _route(deployed, engine, "delegation_visit", secure, "lokafor")
    assert steps == ["Screen visitor", "Host unit approval", "ITV approval", "Director approval"]
    assert reason == "Visit to a secure site"


def test_travel_documents_need_no_approval_and_no_follow_up_is_listed(deployed, engine):
    assert _route(deployed, engine, "passport_visa", documents_request(), "jdoe")[0] == []
    renewal = documents_request(passport={"held": False})
    assert _route(deployed, engine, "passport_visa", renewal, "jdoe")[0] == []


def test_a_conference_request_s_route(deployed, engine):
    steps, reason = _route(deployed, engine, "conference_attendance", conference_request(), "jdoe")
    assert (steps, reason) == (["Supervisor review", "Confirm funds"], "Standard route")


def test_no_escalation_step_is_listed_as_an_approval(deployed, engine):
    """From the officer's step, the wait for the passport office has a 10-day timer whose follow-up
    task ends at a decision gateway: an escalation, not an approval on the route."""
    from engine.route_preview import _Walk
    from engine.versions import latest_definition

    with deployed.reading() as s:
        parsed = engine.specs.get(s, latest_definition(s, "passport_visa"))
    walk = _Walk(engine, {}, set())
    walk.from_spec(parsed.spec.task_specs["UserTask_prepare_passport_application"])
    assert "ReceiveTask_wait_for_passport" in {name for _, name in walk.seen}
    assert [spec.name for spec in walk.approvals] == []
