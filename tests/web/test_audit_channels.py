"""The audit tells how a decision arrived (issue 19 item 3): web and API here; email links and
replies in tests/scheduler/test_email_actions.py and test_mailin.py."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import AuditEvent, TaskRecord
from tests.api.conftest import Api, make_token
from tests.web.conftest import task_ids


def start(app, title: str) -> int:
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": title, "amount": 1000}, "jdoe").id


def channels(app) -> dict[int, str]:
    with app.extensions["waypoint.db"].reading() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed"))
        return {e.instance_id: e.details.get("channel") for e in events}


def test_web_and_api_completions_name_their_channel(app, as_user):
    by_web, by_api = start(app, "web"), start(app, "api")
    msmith = as_user("msmith")
    pending = task_ids(msmith.get("/inbox").text)
    assert len(pending) == 2
    tasks = {}
    with app.extensions["waypoint.db"].reading() as s:
        for task_id in pending:
            tasks[s.get(TaskRecord, task_id).instance_id] = task_id
    page = msmith.get(f"/tasks/{tasks[by_web]}")
    version = page.text.split('name="version" value="')[1].split('"')[0]
    assert msmith.post(f"/tasks/{tasks[by_web]}", {"decision": "approve", "version": version}).status_code == 302
    api = Api(app, make_token(app, "msmith"))
    done = api.post(f"/tasks/{tasks[by_api]}/complete", json={"data": {"decision": "approve"}})
    assert done.status_code == 200, done.text
    assert channels(app) == {by_web: "web", by_api: "api"}
