"""Tasks over the API: the caller's lists, one task with its form, claim, release, complete; ETag/If-Match."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, documents_request, only_task

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@pytest.fixture
def request_id(api) -> int:  # type: ignore[no-untyped-def]
    """Jane Doe's passport and visa request (China: the passport officer prepares a visa application)."""
    response = api("jdoe").post("/instances", json={"process": "passport_visa", "data": documents_request()})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_the_task_list_follows_the_inbox(api, request_id):
    ppatel, jdoe = api("ppatel"), api("jdoe")
    queue = ppatel.get("/tasks").json
    assert [(t["name"], t["role"], t["requester"]) for t in queue["items"]] == [
        ("Prepare visa application", "passport_officer", "jdoe")
    ]
    assert queue["next_cursor"] is None
    assert ppatel.get("/tasks?scope=mine").json["items"] == []
    assert len(ppatel.get("/tasks?scope=queue").json["items"]) == 1
    assert jdoe.get("/tasks").json["items"] == []  # a requester does not approve
    assert len(jdoe.get(f"/tasks?scope=visible&instance={request_id}").json["items"]) == 1
    assert api("fchan").get(f"/tasks?scope=visible&instance={request_id}").json["items"] == []
    assert ppatel.get("/tasks?process=conference_attendance").json["items"] == []
    assert ppatel.get("/tasks?overdue=true").json["items"] == []
    assert len(ppatel.get("/tasks?overdue=false&role=passport_officer").json["items"]) == 1
    assert_error(ppatel.get("/tasks?scope=everything"), 400, "validation_failed")
    assert_error(ppatel.get("/tasks?overdue=maybe"), 400)
    assert_error(ppatel.get("/tasks?instance=-3"), 400)


def test_task_pages_follow_the_cursor(api):
    jdoe, ppatel = api("jdoe"), api("ppatel")
    ids = []
    for _ in range(3):
        jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request()})
    seen, cursor = [], ""
    while True:
        page = ppatel.get(f"/tasks?limit=2{'&cursor=' + cursor if cursor else ''}").json
        seen += [t["id"] for t in page["items"]]
        ids.append(len(page["items"]))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == [2, 1] and len(set(seen)) == 3


def test_a_task_shows_its_form_data_and_whether_the_caller_may_work_on_it(api, request_id):
    ppatel = api("ppatel")
    task = only_task(ppatel, request_id, "UserTask_prepare_visa_application")
    detail = ppatel.get(f"/tasks/{task['id']}")
    assert detail.status_code == 200 and detail.headers["ETag"] == f'"{detail.json["version"]}"'
    body = detail.json
    assert body["may_work"] and body["reason"] is None
    assert set(body["schema"]["required"]) == {"visa_ref", "visa_mission"}
    assert body["data"]["visa_destination"] == "China"
    seen_by_requester = api("jdoe").get(f"/tasks/{task['id']}").json
    # not an approval (no decision field): the requester is refused for the role, not for their own request
    assert not seen_by_requester["may_work"] and "needs the role 'passport_officer'" in seen_by_requester["reason"]
    assert_error(api("fchan").get(f"/tasks/{task['id']}"), 404, "not_found")
    assert_error(ppatel.get("/tasks/not-a-task"), 404)
    assert ppatel.get(f"/tasks/{task['id']}", headers={"If-None-Match": detail.headers["ETag"]}).status_code == 304


def test_claim_release_and_complete_with_etags(api, request_id, app):
    ppatel = api("ppatel")
    task = only_task(ppatel, request_id, "UserTask_prepare_visa_application")
    etag = ppatel.get(f"/tasks/{task['id']}").headers["ETag"]
    claimed = ppatel.post(f"/tasks/{task['id']}/claim", headers={"If-Match": etag})
    assert claimed.status_code == 200 and claimed.json["claimed_by"] == "ppatel"
    assert claimed.headers["ETag"] != etag  # a claim is a change of the request
    assert_error(ppatel.post(f"/tasks/{task['id']}/release", headers={"If-Match": etag}), 412, "precondition_failed")

    from engine.people.users import add_user

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        add_user(s, "kwong", now=engine.clock.now(), roles=["requester", "passport_officer"])
    kwong = api("kwong")
    assert_error(kwong.post(f"/tasks/{task['id']}/claim"), 409, "task_already_claimed")
    assert_error(kwong.post(f"/tasks/{task['id']}/release"), 403, "forbidden")
    assert_error(api("jdoe").post(f"/tasks/{task['id']}/claim"), 409, "task_already_claimed")  # not an approval
    assert_error(api("fchan").post(f"/tasks/{task['id']}/claim"), 404)  # cannot even see it
    released = ppatel.post(f"/tasks/{task['id']}/release", headers={"If-Match": claimed.headers["ETag"]})
    assert released.status_code == 200 and released.json["claimed_by"] is None
    assert_error(ppatel.post(f"/tasks/{task['id']}/release"), 409, "invalid_state")

    invalid = ppatel.post(f"/tasks/{task['id']}/complete", json={"data": {"visa_ref": "lower case", "extra": 1}})
    paths = {f["path"] for f in assert_error(invalid, 400, "validation_failed")["details"]["fields"]}
    assert paths == {"data.extra", "data.visa_ref", "data.visa_mission"}
    assert_error(ppatel.post(f"/tasks/{task['id']}/complete", json={"data": []}), 400)
    assert_error(ppatel.post(f"/tasks/{task['id']}/complete", json={"data": {}, "x": 1}), 400)
    data = {"data": {"visa_ref": "V-CN-1", "visa_mission": "Beijing"}}
    stale = ppatel.post(f"/tasks/{task['id']}/complete", json=data, headers={"If-Match": etag})
    assert_error(stale, 412)
    current = released.headers["ETag"]
    done = ppatel.post(f"/tasks/{task['id']}/complete", json=data, headers={"If-Match": current})
    assert done.status_code == 200, done.json
    assert done.json["task"]["status"] == "completed" and done.json["task"]["completed_by"] == "ppatel"
    assert [t["element_id"] for t in done.json["next_tasks"]] == ["UserTask_submit_visa_application"]
    assert done.headers["ETag"] == f'"{done.json["instance"]["version"]}"'
    again = ppatel.post(f"/tasks/{task['id']}/complete", json=data)
    assert_error(again, 409, "task_already_completed")
    assert "already completed by Priya Patel" in again.json["error"]["message"]
    assert not ppatel.get(f"/tasks/{task['id']}").json["may_work"]


def test_completing_through_the_api_leaves_no_draft(api, request_id, app):
    from sqlalchemy import func, select

    from engine import task_drafts
    from engine.models import TaskDraft, TaskRecord
    from engine.people.users import get_user

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    ppatel = api("ppatel")
    task = only_task(ppatel, request_id, "UserTask_prepare_visa_application")
    with db.transaction() as s:
        row = s.get(TaskRecord, task["id"])
        parsed = engine.definition_for(s, row.instance)
        draft = {"visa_ref": "V-CN-1"}
        now = engine.clock.now()
        task_drafts.save(
            s, row, get_user(s, "ppatel"), draft, now, parsed.form(row.form), engine.vault, parsed.personal
        )
    data = {"data": {"visa_ref": "V-CN-1", "visa_mission": "Beijing"}}
    assert ppatel.post(f"/tasks/{task['id']}/complete", json=data).status_code == 200
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(TaskDraft).where(TaskDraft.task_id == task["id"])) == 0


def test_pages_and_the_api_act_on_the_same_tasks(api, request_id, app, as_user):
    from engine.people.users import add_user

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        add_user(s, "kwong", now=engine.clock.now(), roles=["requester", "passport_officer"])
    task = only_task(api("ppatel"), request_id, "UserTask_prepare_visa_application")
    api("ppatel").post(f"/tasks/{task['id']}/claim")
    assert_error(api("kwong").post(f"/tasks/{task['id']}/claim"), 409, "task_already_claimed")
    page = as_user("kwong").post(f"/tasks/{task['id']}/claim", follow_redirects=True)
    assert page.status_code == 200 and "Priya Patel is working on" in page.text
    assert_error(api("kwong").get(f"/tasks/{task['id']}"), 404)  # reading: the request stays hidden
    assert as_user("kwong").get(f"/tasks/{task['id']}").status_code == 404
    assert_error(api("fchan").post(f"/tasks/{task['id']}/claim"), 404)  # another role: not even a name
    assert as_user("fchan").post(f"/tasks/{task['id']}/claim").status_code == 404
