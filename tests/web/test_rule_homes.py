"""The web and the API ask the engine's one home of each rule instead of restating it: who may
start a process (`Engine.may_start`), who sees the reports (`permissions.may_view_reports`),
and which field is a task page's decision (`engine.forms.decision_form`)."""

from __future__ import annotations

import json
import shutil

import pytest

from engine import PermissionDenied, permissions
from engine.runtime import Engine
from tests.api.conftest import api, assert_error, documents_request  # noqa: F401  (the api fixture)
from tests.conftest import FIXTURES
from tests.web.conftest import task_ids

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@sqlite_only
def test_the_api_asks_engine_may_start(app, api, monkeypatch):  # noqa: F811
    jdoe = api("jdoe")
    listed = {p["key"]: p["can_start"] for p in jdoe.get("/processes").json}
    assert listed["passport_visa"] and not listed["delegation_visit"]
    assert_error(jdoe.post("/instances", json={"process": "delegation_visit", "data": {}}), 403, "forbidden")

    monkeypatch.setattr(Engine, "may_start", lambda self, session, user, key: None)  # everyone may start anything
    assert all(p["can_start"] for p in jdoe.get("/processes").json)
    assert jdoe.get("/processes/delegation_visit").json["can_start"]
    assert jdoe.get("/processes/delegation_visit/start-form").json["can_start"]
    assert_error(jdoe.post("/instances", json={"process": "delegation_visit", "data": {}}), 400, "validation_failed")

    def nobody(self, session, user, key):  # type: ignore[no-untyped-def]
        return PermissionDenied("may_not_start", username=user.username, key=key)

    monkeypatch.setattr(Engine, "may_start", nobody)
    assert not any(p["can_start"] for p in jdoe.get("/processes").json)
    refused = jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request()})
    assert assert_error(refused, 403, "forbidden")["message"] == "jdoe may not start 'passport_visa'"


@sqlite_only
def test_reports_ask_permissions_may_view_reports(as_user, monkeypatch):
    assert as_user("jdoe").get("/reports").status_code == 403
    assert 'href="/reports"' not in as_user("jdoe").get("/inbox").text
    monkeypatch.setattr(permissions, "may_view_reports", lambda user: user.username == "jdoe")
    assert as_user("jdoe").get("/reports").status_code == 200
    assert as_user("jdoe").get("/reports/stuck.csv").status_code == 200
    assert as_user("cgagnon").get("/reports").status_code == 403


def _review_version(tmp_path, app, review: dict) -> None:
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    folder = tmp_path / "small_v2"
    shutil.copytree(FIXTURES / "small", folder)
    (folder / "forms" / "review.schema.json").write_text(json.dumps(review))
    with db.transaction() as s:
        engine.deploy(s, [folder])
        engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, "jdoe")


TWO_DECISIONS = {
    "type": "object",
    "properties": {
        "decision": {"enum": ["approve", "reject"], "x-widget": "radio"},
        "final_decision": {"enum": ["confirm", "cancel"]},
        "comment": {"type": "string"},
    },
}


@sqlite_only
@pytest.mark.parametrize(
    ("review", "buttons"),
    [
        (json.loads((FIXTURES / "small" / "forms" / "review.schema.json").read_text()), ["approve", "reject"]),
        (TWO_DECISIONS, []),  # decision_form refuses two decision fields: no buttons, a Complete button
    ],
)
def test_the_task_pages_decision_buttons_follow_decision_form(tmp_path, app, as_user, review, buttons):
    import re

    from engine.forms import decision_form

    _review_version(tmp_path, app, review)
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox").text)
    page = msmith.get(f"/tasks/{task_id}").text
    assert re.findall(r'class="decision-(\w+)"', page) == buttons
    assert (decision_form(review) is not None) == bool(buttons)
    assert ('id="complete"' in page) == (not buttons)
    if not buttons:  # both choices are ordinary fields of the form
        assert 'name="decision"' in page and 'name="final_decision"' in page


def test_render_choices_label_the_engines_choices(app):
    from web.render import choices

    node = {"enum": ["a", "b"], "x-enumLabels": {"a": "Yes"}, "x-fr": {"x-enumLabels": {"a": "Oui"}}}
    with app.test_request_context("/"):
        assert choices(node) == [("a", "Yes"), ("b", "b")]
        assert choices({"oneOf": [{"const": 1, "title": "One"}]}) == [("1", "One")]
        assert choices({"type": "string"}) is None
