"""Idempotency-Key: a retried start, complete or message makes one transition and returns the first answer,
also when the retry arrives while the first request is still running."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from engine.models import AuditEvent, ProcessInstance
from tests.api.conftest import Api, assert_error, documents_request, only_task, prepare_visa

START = {"process": "passport_visa", "data": documents_request()}


def count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["waypoint.db"].reading() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)))


def test_a_retried_start_returns_the_first_answer_and_starts_once(api, app):
    jdoe = api("jdoe")
    key = {"Idempotency-Key": "3f1c0f9e-start"}
    first = jdoe.post("/instances", json=START, headers=key)
    again = jdoe.post("/instances", json=START, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (again.headers["Location"], again.headers["ETag"]) == (first.headers["Location"], first.headers["ETag"])
    assert count(app, ProcessInstance) == 1
    assert jdoe.post("/instances", json=START).status_code == 201  # without a key: a second request
    assert count(app, ProcessInstance) == 2


def test_a_key_belongs_to_one_request_and_one_user(api, app):
    jdoe, rmartin = api("jdoe"), api("rmartin")
    key = {"Idempotency-Key": "k-1"}
    assert jdoe.post("/instances", json=START, headers=key).status_code == 201
    other = {"process": "passport_visa", "data": documents_request(destinations=["France"])}
    assert_error(jdoe.post("/instances", json=other, headers=key), 422, "idempotency_key_reused")
    assert_error(jdoe.post("/messages", json={"name": "visa_decision"}, headers=key), 422, "idempotency_key_reused")
    assert rmartin.post("/instances", json=START, headers=key).status_code == 201  # another user's key space
    assert count(app, ProcessInstance) == 2
    for bad in ("", "has space", "x" * 201, "é"):
        assert_error(jdoe.post("/instances", json=START, headers={"Idempotency-Key": bad}), 400)


def test_failures_are_not_stored_so_a_corrected_retry_runs(api, app):
    jdoe = api("jdoe")
    key = {"Idempotency-Key": "fix-and-retry"}
    wrong = {"process": "passport_visa", "data": documents_request(trip_end_date="2020-01-01")}
    assert_error(jdoe.post("/instances", json=wrong, headers=key), 400)
    assert jdoe.post("/instances", json=START, headers=key).status_code == 201
    assert jdoe.post("/instances", json=START, headers=key).headers["Idempotent-Replayed"] == "true"


def test_keys_expire_after_a_day(api, app, clock):
    jdoe = api("jdoe")
    key = {"Idempotency-Key": "daily"}
    first = jdoe.post("/instances", json=START, headers=key).json["id"]
    clock.advance(timedelta(hours=24, seconds=1))
    assert jdoe.post("/instances", json=START, headers=key).json["id"] != first
    assert count(app, ProcessInstance) == 2


def test_a_retried_completion_completes_once(api, app):
    jdoe, ppatel = api("jdoe"), api("ppatel")
    instance_id = jdoe.post("/instances", json=START).json["id"]
    task = only_task(ppatel, instance_id, "UserTask_prepare_visa_application")
    key = {"Idempotency-Key": "complete-1"}
    body = {"data": {"visa_ref": "V-CN-0001", "visa_mission": "Beijing"}}
    first = ppatel.post(f"/tasks/{task['id']}/complete", json=body, headers=key)
    again = ppatel.post(f"/tasks/{task['id']}/complete", json=body, headers=key)
    assert first.status_code == again.status_code == 200 and again.data == first.data
    assert count(app, AuditEvent, AuditEvent.action == "task_completed") == 1
    assert_error(ppatel.post(f"/tasks/{task['id']}/complete", json=body), 409, "task_already_completed")


def test_a_retried_message_is_delivered_once(api, app, integrations):
    jdoe, ppatel, embassy = api("jdoe"), api("ppatel"), api("embassy")
    instance_id = jdoe.post("/instances", json=START).json["id"]
    prepare_visa(ppatel, instance_id, "V-CN-0002")
    message = {"name": "visa_decision", "payload": {"visa_ref": "V-CN-0002", "decision": "granted"}}
    key = {"Idempotency-Key": "embassy-msg-77"}
    first = embassy.post("/messages", json=message, headers=key)
    again = embassy.post("/messages", json=message, headers=key)
    assert first.status_code == again.status_code == 200 and again.data == first.data
    assert count(app, AuditEvent, AuditEvent.action == "message_received") == 1
    assert_error(embassy.post("/messages", json=message), 404)  # a retry without the key: nothing waits


def _concurrently(app, monkeypatch, method_name, send):  # type: ignore[no-untyped-def]
    """Send the same request twice, the second while the first is inside its transaction."""
    engine = app.extensions["waypoint.engine"]
    inside, original = threading.Event(), getattr(engine, method_name)

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(*args, **kwargs)
        if not inside.is_set():
            inside.set()
            time.sleep(0.5)  # hold the transaction open while the retry arrives
        return result

    monkeypatch.setattr(engine, method_name, slow)
    answers: list = [None, None]

    def first() -> None:
        answers[0] = send()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    answers[1] = send()
    thread.join(10)
    return answers


def test_a_concurrent_retry_of_a_start_waits_and_replays(api, app, monkeypatch):
    jdoe = api("jdoe")
    key = {"Idempotency-Key": "racing-start"}
    first, second = _concurrently(
        app, monkeypatch, "start", lambda: Api(app, jdoe.token).post("/instances", json=START, headers=key)
    )
    assert first.status_code == second.status_code == 201, (first.json, second.json)
    assert first.json["id"] == second.json["id"] and second.headers["Idempotent-Replayed"] == "true"
    assert count(app, ProcessInstance) == 1


def test_a_concurrent_retry_of_a_completion_waits_and_replays(api, app, monkeypatch):
    jdoe, ppatel = api("jdoe"), api("ppatel")
    instance_id = jdoe.post("/instances", json=START).json["id"]
    task = only_task(ppatel, instance_id, "UserTask_prepare_visa_application")
    body = {"data": {"visa_ref": "V-CN-0003", "visa_mission": "Beijing"}}
    key = {"Idempotency-Key": "racing-complete"}
    first, second = _concurrently(
        app,
        monkeypatch,
        "complete",
        lambda: Api(app, ppatel.token).post(f"/tasks/{task['id']}/complete", json=body, headers=key),
    )
    assert first.status_code == second.status_code == 200, (first.json, second.json)
    assert first.data == second.data
    assert count(app, AuditEvent, AuditEvent.action == "task_completed") == 1


def test_a_retry_of_the_same_json_in_another_key_order_replays(api, app):
    """The fingerprint is the JSON's value, not its bytes (issue 19 item 9, F21)."""
    import json

    jdoe = api("jdoe")
    key = {"Idempotency-Key": "reordered", "Content-Type": "application/json"}
    first_body = json.dumps({"process": START["process"], "data": START["data"]})
    again_body = json.dumps(
        {"data": dict(reversed(list(START["data"].items()))), "process": START["process"]}, indent=2
    )
    first = jdoe.post("/instances", data=first_body, headers=key)
    again = jdoe.post("/instances", data=again_body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and count(app, ProcessInstance) == 1
