"""`waypoint signal` and `waypoint message` starting a message-started process, each command a separate process."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES
from tests.engine.test_cli import run


def test_signal_and_message_start_from_the_command_line(db):
    url = db.url
    run(url, "seed-demo")
    run(url, "deploy", str(FIXTURES / "events"))
    first = run(url, "start", "event_gateway", "--as", "jdoe").stdout.strip()
    second = run(url, "start", "signal_waiter", "--as", "jdoe").stdout.strip()

    sent = run(url, "signal", "gw_halt")
    assert sent.stdout.strip() == f"signal 'gw_halt' reached #{first}"
    assert json.loads(run(url, "show", first, "--json").stdout)["outcome"] == "By signal"
    reached = json.loads(run(url, "signal", "fire_drill", "--json").stdout)["delivered_to"]
    assert [r["instance_id"] for r in reached][0] == int(second)
    assert len(reached) == 2  # the waiter and a new signal-started request
    assert run(url, "signal", "nobody").stdout.strip() == "signal 'nobody' reached no request"

    started = json.loads(run(url, "message", "order_placed", "--data", '{"order_no": "C-3"}', "--json").stdout)
    run(url, "message", "order_paid", "--data", '{"order_no": "C-3"}')
    view = json.loads(run(url, "show", str(started["instance_id"]), "--json").stdout)
    assert (view["status"], view["outcome"]) == ("completed", "Paid")
