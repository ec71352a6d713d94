"""Signals and message starts through the API: POST /signals broadcasts, POST /messages starts a process."""

from __future__ import annotations

from tests.api.conftest import assert_error
from tests.conftest import FIXTURES


def deploy_events(app) -> None:  # type: ignore[no-untyped-def]
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "events"], deployed_by="admin")


def test_signal_reaches_every_waiting_request_and_message_starts_one(app, api):
    deploy_events(app)
    jdoe, admin = api("jdoe"), api("admin")
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:  # no start form: started by the engine, as a test harness would
        ids = [engine.start(s, "event_gateway", {}, "jdoe").id for _ in range(2)]

    assert_error(jdoe.post("/signals", json={"name": "gw_halt"}), 403)
    sent = admin.post("/signals", json={"name": "gw_halt"})
    assert sent.status_code == 200, sent.json
    assert sent.json["signal"] == "gw_halt"
    assert sorted(i["id"] for i in sent.json["delivered_to"]) == ids
    for instance_id in ids:
        assert admin.get(f"/instances/{instance_id}").json["status"] == "completed"
    again = admin.post("/signals", json={"name": "gw_halt"})
    assert (again.status_code, again.json["delivered_to"]) == (200, [])

    started = admin.post("/messages", json={"name": "order_placed", "payload": {"order_no": "A-9"}})
    assert started.status_code == 200, started.json
    [instance] = started.json["delivered_to"]
    assert instance["status"] == "running"
    paid = admin.post("/messages", json={"name": "order_paid", "payload": {"order_no": "A-9"}})
    assert [i["id"] for i in paid.json["delivered_to"]] == [instance["id"]]
    assert admin.get(f"/instances/{instance['id']}").json["status"] == "completed"
