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
