"""`db.reading()`: nothing a read changes on its objects is written, and on PostgreSQL a read
commits its `READ ONLY` transaction instead of rolling back, so the connection keeps its prepared
statements (psycopg drops them all at a rollback) and a page repeated on it is planned once, not
at every request. Listings write their LIMIT into the statement, so PostgreSQL can plan them once
(with the number of rows a parameter, it plans every call again)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import DBAPIError

from engine import Database
from engine.models import User
from engine.queries.inbox import InboxQuery, inbox_page
from tests.conftest import PG_ADMIN_URL

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_a_change_made_in_a_read_is_never_written(people):
    with people.reading() as s:
        user = s.scalar(select(User).where(User.username == "jdoe"))
        user.display_name = "Changed for display"
        s.scalar(select(User.id).where(User.username == "msmith"))  # would have flushed it (autoflush)
    with people.reading() as s:
        assert s.scalar(select(User.display_name).where(User.username == "jdoe")) != "Changed for display"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_write_statement_in_a_read_fails_on_postgresql(people):
    with pytest.raises(DBAPIError, match="read-only transaction"), people.reading() as s:
        s.execute(update(User).where(User.username == "jdoe").values(display_name="Written"))
    with people.reading() as s:
        assert s.scalar(select(User.display_name).where(User.username == "jdoe")) != "Written"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_page_repeated_over_reads_keeps_its_prepared_statements(people):
    for _ in range(10):  # psycopg prepares a statement at its sixth run on a connection
        with people.reading() as s:
            inbox_page(s, s.scalar(select(User).where(User.username == "msmith")), InboxQuery(), NOW)
    with people.reading() as s:
        prepared = s.execute(text("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")).all()
    runs = {statement.split(" FROM ")[0][:40]: count for statement, count in prepared}
    assert any("AS task_id" in statement and count >= 4 for statement, count in prepared), runs


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite binds an OFFSET of its own (0)
def test_the_inbox_writes_its_row_counts_into_its_statements(people):
    statements: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with people.reading() as s:
        user = s.scalar(select(User).where(User.username == "msmith"))
        event.listen(people.engine, "before_cursor_execute", grab)
        try:
            inbox_page(s, user, InboxQuery(tab="queue", page=2), NOW)
        finally:
            event.remove(people.engine, "before_cursor_execute", grab)
    counts = [n for s in statements for n in re.findall(r"(?:LIMIT|OFFSET)\s+(\S+)", s)]
    assert len(counts) >= 4 and all(re.match(r"\d+\b", n) for n in counts), counts
    assert any("LIMIT 26 OFFSET 25" in s for s in statements)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_postgresql_sessions_start_no_parallel_workers_and_keep_the_urls_own_options(db):
    # a parallel worker cost a search page 3-5 ms to start for a branch of no rows
    with db.reading() as s:
        assert s.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
        assert s.scalar(text("SHOW search_path")).startswith("wp_test_")  # the URL's options still apply
    own = Database(f"{db.url} -c max_parallel_workers_per_gather=1")
    plain = Database(PG_ADMIN_URL)  # the README's form of WAYPOINT_DATABASE_URL: no options of its own
    try:
        with own.reading() as s:
            assert s.scalar(text("SHOW max_parallel_workers_per_gather")) == "1"  # the URL's own setting wins
        with plain.reading() as s:
            assert s.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
    finally:
        own.dispose()
        plain.dispose()
