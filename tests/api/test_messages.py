"""Messages from outside systems: the passport and visa process end to end, correlation, grants, 404 and 409."""

from __future__ import annotations

from tests.api.conftest import assert_error, documents_request, only_task, prepare_visa


def start(api, **overrides) -> int:  # type: ignore[no-untyped-def]
    response = api("jdoe").post("/instances", json={"process": "passport_visa", "data": documents_request(**overrides)})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_passport_and_visa_end_to_end_start_wait_message_next_task(api, integrations):
    jdoe, ppatel, embassy, office = api("jdoe"), api("ppatel"), api("embassy"), api("passport_office")
    instance_id = start(api, current_passport={"held": False})

    task = only_task(ppatel, instance_id, "UserTask_prepare_passport_application")
    data = {"application_ref": "PPT-2027-001", "application_type": "new"}
    assert ppatel.post(f"/tasks/{task['id']}/complete", json={"data": data}).status_code == 200
    photos = jdoe.get("/tasks").json["items"]  # the traveller's own step is in her list
    assert [t["element_id"] for t in photos] == ["UserTask_supply_passport_documents"]
    data = {"photos_supplied": True, "application_form_signed": True}
    assert jdoe.post(f"/tasks/{photos[0]['id']}/complete", json={"data": data}).status_code == 200
    task = only_task(ppatel, instance_id, "UserTask_submit_passport_application")
    data = {"passport_submitted_on": "2026-11-20", "submission_channel": "courier"}
    assert ppatel.post(f"/tasks/{task['id']}/complete", json={"data": data}).status_code == 200

    issued = {"application_ref": "PPT-2027-001", "passport_number": "DP123456", "expiry_date": "2032-05-01"}
    delivered = office.post("/messages", json={"name": "passport_issued", "payload": issued})  # correlated from payload
    assert delivered.status_code == 200, delivered.json
    assert [i["id"] for i in delivered.json["delivered_to"]] == [instance_id]

    prepare_visa(ppatel, instance_id, "V-CN-7")
    waiting = jdoe.get(f"/instances/{instance_id}").json
    assert [t["status"] for t in waiting["tasks"]].count("ready") == 0  # only the mission's answer is awaited

    decision = {"name": "visa_decision", "correlation": {"visa_ref": "V-CN-7"}, "payload": {"visa_ref": "V-CN-7"}}
    decision["payload"]["decision"] = "granted"
    response = embassy.post("/messages", json=decision)
    assert response.status_code == 200, response.json
    assert response.json["message"] == "visa_decision"
    assert [(i["id"], i["status"]) for i in response.json["delivered_to"]] == [(instance_id, "running")]
    after = jdoe.get(f"/instances/{instance_id}").json
    assert [t["element_id"] for t in after["tasks"] if t["status"] == "ready"] == ["UserTask_sign_out_passport"]
    assert after["data"]["visa_results"] == [{"destination": "China", "visa_ref": "V-CN-7", "decision": "granted"}]
    received = [e for e in after["timeline"] if e["action"] == "message_received"]
    assert [(e["actor"], e["details"]["message"]) for e in received] == [
        ("passport_office", "passport_issued"),
        ("embassy", "visa_decision"),
    ]
    assert_error(embassy.post("/messages", json=decision), 404, "not_found")  # nothing waits any more


def test_nobody_waiting_is_404_and_several_waiting_is_409(api, integrations):
    ppatel, embassy = api("ppatel"), api("embassy")
    decision = {"name": "visa_decision", "payload": {"visa_ref": "V-0001", "decision": "granted"}}
    assert_error(embassy.post("/messages", json=decision), 404, "not_found")
    first, second = start(api), start(api)
    prepare_visa(ppatel, first, "V-0001")
    prepare_visa(ppatel, second, "V-0001")  # the same reference twice: a data-entry mistake
    error = assert_error(embassy.post("/messages", json=decision), 409, "ambiguous_message")
    assert str(first) in error["message"] and str(second) in error["message"]
    targeted = embassy.post("/messages", json={**decision, "correlation": {"instance": second}})
    assert [i["id"] for i in targeted.json["delivered_to"]] == [second]
    assert embassy.post("/messages", json=decision).json["delivered_to"][0]["id"] == first


def test_only_granted_accounts_and_admins_deliver_messages(api, integrations):
    ppatel = api("ppatel")
    instance_id = start(api)
    prepare_visa(ppatel, instance_id, "V-0002")
    decision = {"name": "visa_decision", "payload": {"visa_ref": "V-0002", "decision": "granted"}}
    assert_error(api("passport_office").post("/messages", json=decision), 403, "forbidden")
    assert_error(ppatel.post("/messages", json=decision), 403)  # people record it in the follow-up task
    bad = api("embassy").post("/messages", json={**decision, "payload": {"visa_ref": "V-0002", "decision": "maybe"}})
    assert_error(bad, 422, "script_error")  # the process refuses the payload; nothing moved
    assert api("admin").post("/messages", json=decision).status_code == 200


def test_message_bodies_are_validated(api, integrations):
    embassy = api("embassy")
    for body, path in (
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "visa_decision", "correlation": {}}, "correlation"),
        ({"name": "visa_decision", "correlation": {"instance": "x"}}, "correlation.instance"),
        ({"name": "visa_decision", "payload": []}, "payload"),
        ({"name": "visa_decision", "other": 1}, ""),
    ):
        error = assert_error(embassy.post("/messages", json=body), 400, "validation_failed")
        assert error["details"]["fields"][0]["path"] == path, body
