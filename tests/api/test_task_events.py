"""The API lists a task's boundary errors and escalations and raises one."""

from __future__ import annotations

from tests.api.conftest import assert_error
from tests.conftest import FIXTURES


def test_list_and_raise_an_escalation_then_an_error(app, api):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "boundary"], deployed_by="admin")
        instance_id = engine.start(s, "boundary_actions", {}, "jdoe").id
    msmith = api("msmith")
    [task] = msmith.get(f"/tasks?scope=visible&status=ready&instance={instance_id}").json["items"]
    offered = msmith.get(f"/tasks/{task['id']}/events")
    assert offered.status_code == 200, offered.json
    assert [(a["kind"], a["code"]) for a in offered.json] == [("error", "NO_BUDGET"), ("escalation", "NEEDS_HELP")]

    assert_error(msmith.post(f"/tasks/{task['id']}/raise", json={"kind": "error", "code": "NOPE"}), 409)
    helped = msmith.post(f"/tasks/{task['id']}/raise", json={"kind": "escalation", "code": "NEEDS_HELP"})
    assert helped.status_code == 200, helped.json
    assert sorted(t["element_id"] for t in helped.json["next_tasks"] if t["status"] == "ready") == [
        "Task_after_help",
        "Task_review",
    ]
    ended = msmith.post(f"/tasks/{task['id']}/raise", json={"kind": "error", "code": "NO_BUDGET"})
    assert ended.status_code == 200, ended.json
    assert ended.json["instance"]["status"] == "running"  # the help step is still open
    assert_error(msmith.post(f"/tasks/{task['id']}/raise", json={"kind": "error", "code": "NO_BUDGET"}), 409)
