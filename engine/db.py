"""Database connection, transactions and schema migrations (SQLite default, PostgreSQL scale-out).

The caller owns the transaction: `with db.transaction() as session:` commits on success and
rolls back on any exception. On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so
writers queue on the database lock (busy timeout) instead of failing on a stale snapshot;
`db.reading()` opens a plain deferred transaction for queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.config import ensure_sqlite_directory
from engine.errors import DatabaseUnavailable, SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_WRITE_OPTION = "waypoint_write"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "temp_store=MEMORY",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One database: its SQLAlchemy engine, session factories and migration helpers."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            ensure_sqlite_directory(url)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commit at the end of the block, roll back on error."""
        with self._guard(), self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work (rolled back at the end)."""
        with self._guard(), self._read_sessions() as session:
            yield session

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            message = str(exc.orig) if exc.orig is not None else str(exc)
            if "locked" in message or "busy" in message:
                raise DatabaseUnavailable("database_busy", detail=message) from exc
            if _is_connection_error(message):
                raise DatabaseUnavailable("database_unreachable", url=self.safe_url, detail=message.strip()) from exc
            raise

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, fit for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    # --- schema -----------------------------------------------------------------
    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """(revision(s) the database is at, revision(s) the code expects), comma-joined."""
        heads = ScriptDirectory.from_config(self.alembic_config()).get_heads()
        with self._guard(), self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
        return (",".join(sorted(current)) or None), (",".join(sorted(heads)) or None)

    def check_schema(self) -> None:
        """Raise `SchemaOutOfDate` unless the database is at the code's migration head."""
        current, head = self.schema_revisions()
        if current != head:
            raise SchemaOutOfDate("schema_out_of_date", current=current or "(empty)", head=head, url=self.safe_url)

    def upgrade(self) -> tuple[str | None, str | None]:
        """Apply every pending migration; return (revision before, revision after)."""
        before, _ = self.schema_revisions()
        with self._guard():
            command.upgrade(self.alembic_config(), "heads")
        after, _ = self.schema_revisions()
        return before, after

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_error(message: str) -> bool:
    lowered = message.lower()
    return any(
        needle in lowered
        for needle in (
            "connection refused",
            "could not connect",
            "unable to open database",
            "connection failed",
            "server closed the connection",
            "no such host",
            "name or service not known",
            "timeout expired",
        )
    )
