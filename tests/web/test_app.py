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
    assert client.get("/healthz").json == {"status": "ok"}
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
