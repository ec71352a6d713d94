"""Backup and restore of the embedded SQLite database through SQLite's online backup API.

The backup is consistent even while Waypoint runs (the API copies pages under SQLite's own
locking). PostgreSQL deployments use `pg_dump`/`pg_restore` instead (see README).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from engine.db import Database
from engine.errors import NotFound, WaypointError


def _sqlite_path(db: Database) -> Path:
    if not db.is_sqlite:
        raise WaypointError("backup_sqlite_only")
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise WaypointError("backup_in_memory")
    return Path(database)


def backup(db: Database, target: str | Path) -> int:
    """Copy the live database to `target` (a new file); return its size in bytes."""
    source_path, target_path = _sqlite_path(db), Path(target)
    if target_path.exists():
        raise WaypointError("backup_target_exists", path=str(target_path))
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source, destination = sqlite3.connect(source_path), sqlite3.connect(target_path)
    try:
        source.backup(destination)
        if destination.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise WaypointError("backup_failed_check", path=str(target_path))
    finally:
        source.close()
        destination.close()
    return target_path.stat().st_size


def restore(db: Database, source: str | Path) -> int:
    """Replace the database's content with the backup in `source`; return the backup's size."""
    source_path, target_path = Path(source), _sqlite_path(db)
    if not source_path.exists():
        raise NotFound("no_backup_file", path=str(source_path))
    backup_db = sqlite3.connect(source_path)
    try:
        try:
            intact = backup_db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            tables = {r[0] for r in backup_db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise WaypointError("restore_not_sqlite", path=str(source_path), detail=str(exc)) from exc
        if not intact:
            raise WaypointError("restore_damaged", path=str(source_path))
        if "alembic_version" not in tables:
            raise WaypointError("restore_not_waypoint", path=str(source_path))
        db.dispose()
        with sqlite3.connect(target_path) as live:
            backup_db.backup(live)
    finally:
        backup_db.close()
    return source_path.stat().st_size
