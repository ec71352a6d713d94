"""Processes and instances over the API: start, read, list with filters and cursors, cancel; the web's rules apply."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import ProcessInstance, User
from engine.queries.api import InstanceFilters, list_instances
from engine.queries.inbox import can_view
from tests.api.conftest import assert_error, documents_request

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def start(client, **overrides):  # type: ignore[no-untyped-def]
    response = client.post("/instances", json={"process": "passport_visa", "data": documents_request(**overrides)})
    assert response.status_code == 201, response.json
    return response


@sqlite_only
def test_processes_versions_and_start_forms(db, api):
    jdoe = api("jdoe")
    listed = {p["key"]: p for p in jdoe.get("/processes").json}
    assert listed["passport_visa"]["can_start"] and not listed["delegation_visit"]["can_start"]
    one = jdoe.get("/processes/passport_visa").json
    assert one["key"] == "passport_visa" and one["version"] == 1 and one["can_start"]
    versions = jdoe.get("/processes/passport_visa/versions").json
    assert [v["version"] for v in versions] == [1]
    form = jdoe.get("/processes/passport_visa/start-form").json
    assert form["form"] == "forms/passport_visa_request.schema.json"
    assert "destinations" in form["schema"]["properties"]
    assert_error(jdoe.get("/processes/nope"), 404, "not_found")
    assert_error(jdoe.get("/processes/nope/versions"), 404)
    assert_error(jdoe.get("/processes/no%20pe/start-form"), 404)


def test_start_answers_201_with_location_etag_and_the_instance(api):
    jdoe = api("jdoe")
    response = start(jdoe)
    body = response.json
    assert response.headers["Location"] == f"/api/v1/instances/{body['id']}"
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["status"] == "running" and body["started_by"] == "jdoe"
    assert body["data"]["destinations"] == ["China"]
    assert [t["element_id"] for t in body["tasks"]] == ["UserTask_prepare_visa_application"]
    assert body["timeline"][0]["action"] == "started"

    read = jdoe.get(f"/instances/{body['id']}")
    assert read.status_code == 200 and read.headers["ETag"] == response.headers["ETag"]
    unchanged = jdoe.get(f"/instances/{body['id']}", headers={"If-None-Match": read.headers["ETag"]})
    assert unchanged.status_code == 304 and not unchanged.data


def test_start_refusals_name_the_field_or_the_rule(api):
    jdoe = api("jdoe")
    bad = jdoe.post(
        "/instances",
        json={"process": "passport_visa", "data": documents_request(trip_end_date="2027-01-01", destinations=[])},
    )
    error = assert_error(bad, 400, "validation_failed")
    assert {f["path"] for f in error["details"]["fields"]} == {"data.destinations"}
    bad = jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request(trip_end_date="x")})
    assert [f["path"] for f in assert_error(bad, 400)["details"]["fields"]] == ["data.trip_end_date"]
    bad = jdoe.post("/instances", json={"process": "passport_visa", "data": {**documents_request(), "requester": "x"}})
    assert "data.requester" in {f["path"] for f in assert_error(bad, 400)["details"]["fields"]}
    body_error = assert_error(jdoe.post("/instances", json={"data": {}}), 400, "validation_failed")
    assert body_error["details"]["fields"][0] == {
        "path": "process",
        "message": "this field is required",
        "reason": "required",
        "params": {},
    }
    assert_error(jdoe.post("/instances", json={"process": "delegation_visit", "data": {}}), 403, "forbidden")
    assert_error(jdoe.post("/instances", json={"process": "nope"}), 404, "not_found")
    assert_error(jdoe.post("/instances", data="{", content_type="application/json"), 400, "invalid_json")
    assert_error(jdoe.post("/instances", data="process=x", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(jdoe.post("/instances", json={"process": "passport_visa", "data": {"x": "a\x00b"}}), 400)


def test_service_accounts_start_on_behalf_of_a_person(api, integrations, app):
    hr = api("hr")
    response = hr.post(
        "/instances", json={"process": "passport_visa", "data": documents_request(), "on_behalf_of": "jdoe"}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["started_by"] == "jdoe" and body["data"]["requester"] == "jdoe"
    [started] = [e for e in body["timeline"] if e["action"] == "started"]  # one event: who, and for whom
    assert started["actor"] == "hr" and started["details"]["on_behalf_of"] == "jdoe"
    assert "started_on_behalf" not in {e["action"] for e in body["timeline"]}
    assert api("jdoe").get(f"/instances/{body['id']}").status_code == 200
    refused = api("msmith").post(
        "/instances", json={"process": "passport_visa", "data": documents_request(), "on_behalf_of": "jdoe"}
    )
    assert_error(refused, 403, "forbidden")
    unknown = hr.post("/instances", json={"process": "passport_visa", "data": {}, "on_behalf_of": "nobody"})
    assert assert_error(unknown, 400)["details"]["fields"][0]["path"] == "on_behalf_of"
    not_starter = hr.post("/instances", json={"process": "delegation_visit", "data": {}, "on_behalf_of": "jdoe"})
    assert_error(not_starter, 403)


def test_an_instance_is_404_for_people_who_may_not_see_it(api):
    body = start(api("jdoe")).json
    assert api("ppatel").get(f"/instances/{body['id']}").status_code == 200  # the passport officers' queue
    assert_error(api("fchan").get(f"/instances/{body['id']}"), 404, "not_found")
    assert_error(api("fchan").get("/instances/999999"), 404)
    assert_error(api("fchan").get("/instances/abc"), 404)
    assert_error(api("fchan").get("/instances/99999999999"), 404)


def test_lists_page_with_cursors_and_filters(api):
    jdoe, rmartin = api("jdoe"), api("rmartin")
    ids = [start(jdoe).json["id"] for _ in range(3)]
    other = start(rmartin).json["id"]
    first = jdoe.get("/instances?limit=2").json
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    second = jdoe.get(f"/instances?limit=2&cursor={first['next_cursor']}").json
    assert [i["id"] for i in second["items"]] == ids[:1] and second["next_cursor"] is None
    ascending = jdoe.get("/instances?order=asc").json["items"]
    assert [i["id"] for i in ascending] == ids
    coordinator = api("cgagnon")  # sees every request
    assert {i["id"] for i in coordinator.get("/instances?started_by=rmartin").json["items"]} == {other}
    assert coordinator.get("/instances?status=completed").json["items"] == []
    assert (
        len(coordinator.get("/instances?process=passport_visa&updated_since=2026-01-01T00:00:00Z").json["items"]) == 4
    )
    assert coordinator.get("/instances?created_after=2099-01-01T00:00:00%2B00:00").json["items"] == []
    for query, field in (
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("status=odd", "status"),
        ("cursor=abc", "cursor"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2026-01-01T00:00:00", "updated_since"),
    ):
        error = assert_error(jdoe.get(f"/instances?{query}"), 400, "validation_failed")
        assert error["details"]["fields"][0]["path"] == field, query
    task_cursor = jdoe.get("/tasks?scope=visible&limit=1").json["next_cursor"]
    assert_error(jdoe.get(f"/instances?cursor={task_cursor}"), 400)  # a cursor of another list


def test_the_list_shows_exactly_what_can_view_allows(api, app):
    jdoe, rmartin, ppatel = api("jdoe"), api("rmartin"), api("ppatel")
    start(jdoe)
    mine = start(rmartin, destinations=["France"]).json  # no visa: straight to the officer's sign-out
    task = ppatel.get(f"/tasks?instance={mine['id']}").json["items"][0]
    ppatel.post(f"/tasks/{task['id']}/claim")
    today = app.extensions["waypoint.engine"].today()
    db = app.extensions["waypoint.db"]
    with db.reading() as s:
        instances = list(s.scalars(select(ProcessInstance)))
        for person in s.scalars(select(User)):
            listed, _ = list_instances(s, person, InstanceFilters(), after_id=None, limit=100, today=today)
            expected = {i.id for i in instances if can_view(s, person, i, today)}
            assert {i.id for i in listed} == expected, person.username


def test_cancel_needs_the_requester_the_current_etag_and_a_running_request(api):
    jdoe = api("jdoe")
    created = start(jdoe)
    instance_id = created.json["id"]
    assert_error(api("ppatel").post(f"/instances/{instance_id}/cancel", json={}), 403, "forbidden")
    assert_error(api("fchan").post(f"/instances/{instance_id}/cancel"), 404)
    stale = jdoe.post(f"/instances/{instance_id}/cancel", json={"reason": "x"}, headers={"If-Match": '"1"'})
    assert assert_error(stale, 412, "precondition_failed")["details"]["current_etag"] == created.headers["ETag"]
    done = jdoe.post(
        f"/instances/{instance_id}/cancel", json={"reason": "trip off"}, headers={"If-Match": created.headers["ETag"]}
    )
    assert done.status_code == 200 and done.json["status"] == "cancelled"
    assert done.json["timeline"][-1]["details"] == {"reason": "trip off"}
    assert done.headers["ETag"] == f'"{done.json["version"]}"' != created.headers["ETag"]
    assert_error(jdoe.post(f"/instances/{instance_id}/cancel"), 409, "invalid_state")
