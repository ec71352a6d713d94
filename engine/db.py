"""Database connection, transactions and schema migrations (SQLite default, PostgreSQL scale-out).

The caller owns the transaction: `with db.transaction() as session:` commits on success and
rolls back on any exception. On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so
writers queue on the database lock (busy timeout) instead of failing on a stale snapshot;
`db.reading()` opens a plain deferred transaction for queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, bindparam, create_engine, event, insert, inspect, update
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import MANYTOONE, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
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


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Writes whose results nobody reads, sent without waiting for each one's answer on PostgreSQL
    (psycopg's pipeline mode: one round trip where each statement was one; an error surfaces at
    the latest when the block ends, naming the statement it came from only by its message, and
    the transaction rolls back as before). Core statements only: nothing is flushed inside (an ORM
    update checks its row count, which a pipeline does not report); rows added before are flushed
    first, what the block adds after. Elsewhere the block runs as it is."""
    if session.new:  # rows added before go in first, so that a delete in the block sees them
        session.flush(list(session.new))
    connection = session.connection()
    pipeline = getattr(connection.connection.driver_connection, "pipeline", None)
    if connection.dialect.name != "postgresql" or pipeline is None:
        pipeline = nullcontext
    driver_error = connection.dialect.loaded_dbapi.Error
    try:
        with session.no_autoflush, pipeline():
            yield
    except driver_error as exc:  # raised by the pipeline's end, outside SQLAlchemy: give it SQLAlchemy's class
        lost = connection.dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, driver_error, connection_invalidated=lost) from exc
    mark_written(session)
    session.flush()


def mark_written(session: Session) -> None:
    """Leave the session's objects whose changes are all written (by Core statements, each value
    then set committed) as a flush would: clean. Such an object stays flagged modified, and the
    unit of work would walk its mapper and relationships to find nothing to write: 0.6 ms of
    every action (issue 21). An object with a change not yet written is left to the flush.
    SQLAlchemy has no public call for this; `InstanceState._commit_all` is what its flush calls
    on each object it wrote (tests/engine/test_short_write.py: no action leaves a flush anything)."""
    for obj in list(session.dirty):
        if not session.is_modified(obj):
            state = inspect(obj)
            state._commit_all(state.dict, session.identity_map)


def unflushed_changes(obj: Any) -> dict[str, Any]:
    """A persistent object's column attributes changed in the session and not yet written, by key."""
    state = inspect(obj)
    changed = {}
    for attr in state.mapper.column_attrs:
        added = state.attrs[attr.key].history.added
        if added:
            changed[attr.key] = added[0]
    return changed


def write_changes(session: Session, objects: Iterable[Any]) -> None:
    """Write persistent objects' unflushed column changes with Core statements (`update_by_id`,
    fit for `pipelined`) and leave the objects as a flush would: nothing pending."""
    by_table: dict[tuple[Table, str], list[dict[str, Any]]] = {}
    for obj in objects:
        changes = unflushed_changes(obj)
        if changes:
            mapper = inspect(obj).mapper
            (key,) = (column.key for column in mapper.primary_key)
            by_table.setdefault((cast(Table, mapper.local_table), key), []).append({key: getattr(obj, key), **changes})
            for attribute, value in changes.items():
                set_committed_value(obj, attribute, value)
    for (table, key), updates in by_table.items():
        update_by_id(session, table, updates, key)


def insert_objects(session: Session, objects: Sequence[Any]) -> None:
    """Insert new (transient) mapped objects with Core statements, one per table in the order the
    tables first come (parents first), and leave them as a flush would: persistent, nothing pending.
    Their keys must be set, and the foreign keys of their one-to-many children; a many-to-one
    relationship's is taken from the object it holds; a column left unset takes its constant
    default, else NULL. The ORM flush of a few objects cost more than the statements (issue 21)."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for obj in objects:
        mapper = inspect(obj).mapper
        by_table.setdefault(cast(Table, mapper.local_table), []).append(_column_values(obj, mapper))
    with session.no_autoflush:  # the statements are the write; a flush first would write nothing more
        for table, rows in by_table.items():
            session.execute(insert(table), rows)
    for obj in objects:
        if obj in session:  # pending through a cascade: out first, to come back persistent
            session.expunge(obj)
        make_transient_to_detached(obj)
    for obj in objects:
        session.add(obj)


def _column_values(obj: Any, mapper: Any) -> dict[str, Any]:
    """A new object's row, on the object too: its many-to-one foreign keys from the objects its
    relationships hold, as a flush would set them, and its unset columns' constant defaults."""
    for relation in mapper.relationships:
        parent = obj.__dict__.get(relation.key)
        if relation.direction is MANYTOONE and not relation.viewonly and parent is not None:
            parent_mapper = inspect(parent).mapper
            for local, remote in relation.local_remote_pairs:
                value = getattr(parent, parent_mapper.get_property_by_column(remote).key)
                setattr(obj, mapper.get_property_by_column(local).key, value)
    for attr in mapper.column_attrs:
        if attr.key not in obj.__dict__:  # unset: never expired, a new object
            default = attr.columns[0].default
            if default is not None and not default.is_scalar:
                raise TypeError(f"{mapper.local_table.name}.{attr.key}: only a constant default can be written here")
            setattr(obj, attr.key, default.arg if default is not None else None)
    return {attr.columns[0].key: getattr(obj, attr.key) for attr in mapper.column_attrs}


def update_by_id(session: Session, table: Table, updates: list[dict[str, Any]], key: str = "id") -> None:
    """Write column values of `table`'s rows by `key`, one `UPDATE` per set of columns (Core
    statements, fit for `pipelined`)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        by_columns.setdefault(tuple(sorted(k for k in values if k != key)), []).append(values)
    for columns, group in by_columns.items():
        params = [{"row_key": values[key], **{f"new_{c}": values[c] for c in columns}} for values in group]
        with session.no_autoflush:  # the session's objects are already level with this
            session.execute(_update_statement(table, key, columns), params)


@cache
def _update_statement(table: Table, key: str, columns: tuple[str, ...]) -> Any:
    """`update_by_id`'s statement for one set of columns, built once (every action writes the same few)."""
    return update(table).where(table.c[key] == bindparam("row_key")).values({c: bindparam(f"new_{c}") for c in columns})


#: Settings of Waypoint's PostgreSQL sessions. No parallel query: its statements are short and
#: LIMITed, and a parallel worker costs more to start (3-5 ms) than it saves them; the planner's
#: estimates for the partial open-task indexes (from the whole table's statistics) invite one.
POSTGRESQL_OPTIONS = "-c max_parallel_workers_per_gather=0"


def _postgresql_options(url: URL) -> str:
    """`POSTGRESQL_OPTIONS`, then the URL's own `options`, which win where they set the same."""
    own = url.query.get("options", "")
    return " ".join([POSTGRESQL_OPTIONS, *([own] if isinstance(own, str) else own)]).strip()


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
            kwargs["connect_args"] = {"options": _postgresql_options(parsed)}
        self.engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)
        read_engine = self.engine if self.is_sqlite else self.engine.execution_options(postgresql_readonly=True)
        self._read_sessions = sessionmaker(read_engine, expire_on_commit=False, autoflush=False)

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
        """A read-only unit of work: nothing it changes on its objects is written (no autoflush;
        on PostgreSQL a `READ ONLY` transaction, where a write fails). It ends in a rollback, except
        on PostgreSQL where it read without changing anything: there it commits, since a rollback
        makes psycopg drop the connection's prepared statements, and the next statements would pay
        their planning again."""
        with self._guard(), self._read_sessions() as session:
            yield session
            changed = session.new or session.dirty or session.deleted
            if not self.is_sqlite and session.in_transaction() and not changed:
                session.commit()

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
