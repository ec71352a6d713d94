"""`/metrics`: Prometheus gauges read from the database, in text a Prometheus parser accepts.

Step names come from the diagram, where bpmn-js allows line breaks; quotes and backslashes are
possible too. The exposition must escape them, or one step name breaks the whole scrape.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FIXTURES
from web import create_app

#: The step name as the diagram holds it: a line break, double quotes and a backslash.
AWKWARD_STEP = 'Supervisor\nreview "urgent" a\\b'


def _diagram_with_awkward_step_name(tmp_path: Path) -> Path:
    folder = tmp_path / "small"
    shutil.copytree(FIXTURES / "small", folder)
    bpmn = folder / "small_approval.bpmn"
    xml_name = "Supervisor&#10;review &quot;urgent&quot; a\\b"
    bpmn.write_text(bpmn.read_text().replace('name="Supervisor review"', f'name="{xml_name}"'))
    return folder


def _scrape(client) -> dict[str, list]:  # type: ignore[no-untyped-def]
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def test_metrics_parse_with_a_step_name_holding_a_line_break_quotes_and_a_backslash(people, engine, clock, tmp_path):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [_diagram_with_awkward_step_name(tmp_path)])
        engine.start(s, "small_approval", {"title": "Laptop", "amount": 10}, "jdoe")
        engine.start(s, "small_approval", {"title": "Screen", "amount": 20}, "jdoe")
    clock.advance(timedelta(days=2, hours=1))  # past the review's two-day due time
    client = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "TESTING": True}).test_client()

    families = _scrape(client)

    [open_tasks] = families["waypoint_open_tasks"]
    assert open_tasks.labels == {"process": "small_approval", "step": AWKWARD_STEP}
    assert open_tasks.value == 2
    assert [s.value for s in families["waypoint_overdue_tasks"]] == [2]
    assert [(s.labels, s.value) for s in families["waypoint_running_requests"]] == [({"process": "small_approval"}, 2)]
    assert [s.value for s in families["waypoint_open_incidents"]] == [0]
    assert [s.value for s in families["waypoint_worker_heartbeat_age_seconds"]] == [-1]  # no worker yet
    assert "waypoint_timer_lag_seconds" in families and "waypoint_outbox_messages" in families


def test_metrics_need_a_scrape_token_or_an_allow_listed_address(people, engine):
    """F17: /metrics answered anyone. Loopback (the default allow-list) or the configured token only."""
    from engine.config import SecuritySettings, Settings

    settings = Settings(security=SecuritySettings(metrics_token="scrape-me-0123456789"))
    app = create_app({"WAYPOINT_SETTINGS": settings, "WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True})
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", environ_base=outside).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_base=outside, headers=wrong).status_code == 401
    right = {"Authorization": "Bearer scrape-me-0123456789"}
    assert client.get("/metrics", environ_base=outside, headers=right).status_code == 200
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/healthz", environ_base=outside).status_code in (200, 503)  # health stays open

    default = create_app({"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True})
    assert default.test_client().get("/metrics", environ_base=outside).status_code == 401
