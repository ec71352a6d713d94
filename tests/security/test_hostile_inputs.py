"""Hostile input that used to answer 500 answers 400 now (issue 19 item 9, the outside probe's F13):
a list nested ~900 deep inside API form data, a 5,000-digit row index in a web field name, and a
script result that is not JSON. Nothing is stored in any of these cases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import ScriptError
from engine.models import ProcessInstance
from tests.api.conftest import Api, assert_error, documents_request, make_token
from tests.web.conftest import ROOT, Browser
from web import create_app


@pytest.fixture
def real_app(people, engine, tmp_path):
    """The app with the three real processes."""
    with people.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    options = {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path)}
    return create_app(options)


def instances(app) -> int:
    with app.extensions["waypoint.db"].reading() as s:
        return int(s.scalar(select(func.count()).select_from(ProcessInstance)))


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [17, 900])
def test_deep_nesting_in_api_form_data_is_a_400(real_app, depth):
    api = Api(real_app, make_token(real_app, "jdoe"))
    body = {"process": "passport_visa", "data": documents_request(destinations=nested(depth))}
    problem = assert_error(api.post("/instances", json=body), 400)
    assert "nest" in str(problem) or "destinations" in str(problem)
    assert instances(real_app) == 0


def test_a_5000_digit_row_index_in_a_web_field_name_is_a_400(real_app):
    browser = Browser(real_app).login("lokafor")
    answer = browser.post("/requests/new/delegation_visit", {f"members.{'9' * 5000}.name": "x"})
    assert answer.status_code == 400
    assert instances(real_app) == 0


@pytest.mark.parametrize(
    "script",
    [
        "x = map(str, [1, 2])",  # not JSON
        "x = int('9' * 4000) * int('9' * 4000)",  # an int too long to write as JSON text
        "x = (n for n in [1])",  # a generator
    ],
)
def test_a_script_result_that_is_not_json_is_a_script_error(people, engine, script):
    from tests.reliability.harness import snapshot
    from tests.security.test_hostile_definitions import small_with

    db = people
    with db.transaction() as s:
        engine.deploy(s, sources=small_with("total = round(amount * 1.13, 2)", f"{script}\ntotal = 1"))
    before = snapshot(db)
    with pytest.raises(ScriptError):
        with db.transaction() as s:
            engine.start(s, "small_approval", {"title": "x", "amount": 10}, "jdoe")
    assert snapshot(db) == before
