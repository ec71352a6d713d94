"""SQLite online backup and restore; clear refusals for PostgreSQL and for non-backups."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import Database, NotFound, WaypointError
from engine.backup import backup, restore
from engine.queries.tasks import list_processes
from tests.conftest import FIXTURES


def test_backup_then_restore_brings_the_old_state_back(sqlite_db, engine, tmp_path):
    with sqlite_db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    size = backup(sqlite_db, tmp_path / "copy.db")
    assert size > 0
    with pytest.raises(WaypointError, match="exists"):
        backup(sqlite_db, tmp_path / "copy.db")
    with sqlite_db.transaction() as s:
        s.execute(text("DELETE FROM definition_files"))
        s.execute(text("DELETE FROM process_definitions"))
    with sqlite_db.reading() as s:
        assert list_processes(s) == []
    restore(sqlite_db, tmp_path / "copy.db")
    with sqlite_db.reading() as s:
        assert [p["key"] for p in list_processes(s)] == ["small_approval"]


def test_restore_refuses_what_is_not_a_waypoint_backup(sqlite_db, tmp_path):
    with pytest.raises(NotFound):
        restore(sqlite_db, tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    with pytest.raises(WaypointError, match="not an SQLite database"):
        restore(sqlite_db, junk)
    empty = Database(f"sqlite:///{tmp_path / 'other.db'}")
    with empty.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    empty.dispose()
    with pytest.raises(WaypointError, match="not a Waypoint database"):
        restore(sqlite_db, tmp_path / "other.db")


def test_postgres_is_pointed_to_pg_dump():
    db = Database("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with pytest.raises(WaypointError, match="pg_dump"):
        backup(db, "/tmp/never.db")
    db.dispose()
