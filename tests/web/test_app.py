"""The app factory: refuses a schema that is behind, serves the placeholder home page."""

from __future__ import annotations

import pytest

from engine import Database, SchemaOutOfDate
from tests.conftest import FIXTURES
from web import create_app


def test_app_refuses_to_start_on_old_schema(tmp_path):
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDate) as info:
        create_app({"WAYPOINT_DB": empty})
    assert "run `waypoint db upgrade`" in str(info.value)


def test_production_needs_a_real_secret_key(monkeypatch, sqlite_db):
    monkeypatch.setenv("WAYPOINT_ENV", "production")
    monkeypatch.delenv("WAYPOINT_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="WAYPOINT_SECRET_KEY"):
        create_app({"WAYPOINT_DB": sqlite_db})


def test_home_is_the_inbox_and_health_answers(db, engine):
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "TESTING": True})
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/inbox"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["status"] == "degraded"  # no worker has run yet
    assert health.json["checks"]["migrations"] == "current" and health.json["checks"]["worker"]["ok"] is False
    from engine.worker.loop import Worker

    Worker(db, engine).tick()
    assert client.get("/healthz").json["status"] == "ok"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    assert "waypoint_overdue_tasks 0" in metrics.text and "waypoint_worker_heartbeat_age_seconds 0.0" in metrics.text
    page = client.get("/login")
    assert (
        page.headers["X-Frame-Options"] == "DENY"
        and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    )


def test_vendor_route_serves_only_allow_listed_packages(sqlite_db, engine):
    app = create_app({"WAYPOINT_DB": sqlite_db, "WAYPOINT_ENGINE": engine, "TESTING": True})
    client = app.test_client()
    assert client.get("/vendor/left-pad/index.js").status_code == 404
    assert client.get("/vendor/bpmn-js/../../pyproject.toml").status_code == 404


def test_request_ids_and_json_log_lines(sqlite_db, engine):
    import json
    import logging

    from engine.logs import JsonFormatter

    app = create_app({"WAYPOINT_DB": sqlite_db, "WAYPOINT_ENGINE": engine, "TESTING": True})
    client = app.test_client()
    assert len(client.get("/login").headers["X-Request-Id"]) == 16
    assert client.get("/login", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    assert client.get("/login", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"] != "<script>"
    record = logging.LogRecord("waypoint.requests", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.fields = {"request_id": "abc", "status": 200}
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["request_id"], line["status"], line["message"]) == ("INFO", "abc", 200, "GET / 200")
