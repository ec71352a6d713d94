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


def test_home_lists_deployed_processes(db, engine):
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "TESTING": True})
    page = app.test_client().get("/")
    assert page.status_code == 200
    assert b"Small approval" in page.data and b"small_approval" in page.data
    assert app.test_client().get("/healthz").json == {"status": "ok"}
