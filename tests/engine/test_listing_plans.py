"""The API's task listing walks an index in its (created_at, id) order and never loads workflow state.

Without the index a page read every task its scope matched, joined each to its request and
sorted them (it grew with the queue); with it the page stops after its rows. SQLite's planner
has no statistics here, so its plan is the one it takes on any size of data; PostgreSQL's depends
on its statistics, so there the test asks that the order *can* come from the index (no sort).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from engine.models import User
from engine.queries.api import TASK_SCOPES, InstanceFilters, TaskFilters, list_instances, list_tasks_for

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
INDEX = {"actionable": "ix_tasks_open_created", "mine": "ix_tasks_open_created", "queue": "ix_tasks_open_created"}


def listing_statements(db, username: str, listing) -> list[tuple[str, object]]:
    """Every statement `listing(session, user)` runs, with its parameters."""
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    with db.reading() as session:
        user = session.scalar(select(User).where(User.username == username))
        event.listen(db.engine, "before_cursor_execute", grab)
        try:
            listing(session, user)
        finally:
            event.remove(db.engine, "before_cursor_execute", grab)
    return seen


def the_page_query(statements: list[tuple[str, object]]) -> tuple[str, object]:
    [page] = [s for s in statements if "FROM tasks" in s[0] and "ORDER BY tasks.created_at" in s[0]]
    return page


def plan(db, statement: str, parameters: object) -> str:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return "\n".join(r[3] for r in rows)
        conn.exec_driver_sql("SET enable_sort = off")  # may the order come from an index at all?
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))


@pytest.mark.parametrize("scope", TASK_SCOPES)
@pytest.mark.parametrize("username", ["msmith", "admin"])  # a manager with roles; oversight (sees everything)
def test_task_listing_walks_its_order_index(people, scope, username):
    def listing(session, user):
        list_tasks_for(session, user, TaskFilters(scope=scope), NOW, after=None, limit=25)

    statements = listing_statements(people, username, listing)
    text = plan(people, *the_page_query(statements))
    assert INDEX.get(scope, "ix_tasks_created") in text, text
    if people.is_sqlite:
        assert "TEMP B-TREE FOR ORDER BY" not in text, text
    else:
        assert "Sort" not in text, text


@pytest.mark.parametrize("username", ["msmith", "admin"])
def test_listings_never_load_workflow_state(people, username):
    def listing(session, user):
        for scope in TASK_SCOPES:
            list_tasks_for(session, user, TaskFilters(scope=scope), NOW, after=None, limit=25)
        list_instances(session, user, InstanceFilters(), after_id=None, limit=25, today=NOW.date())

    for statement, _ in listing_statements(people, username, listing):
        columns = statement.split(" FROM ")[0]
        assert "process_instances.data" not in columns and "instance_states" not in statement, statement


def test_inbox_tab_counts_read_the_open_task_indexes_alone(people):
    """Every tab counts held, claimed and queue tasks less approvals of one's own requests: the
    partial indexes hold what that reads (approval, role, requester, status) and the task's id (which
    the branch of tasks offered by name, with no role, checks), so no count visits a row."""
    from engine.queries.inbox import InboxQuery, inbox_page

    if not people.is_sqlite:
        pytest.skip("PostgreSQL answers from the heap or the index as its visibility map says: SQLite's plan is fixed")

    def listing(session, user):
        inbox_page(session, user, InboxQuery(), NOW)

    [counts] = [s for s in listing_statements(people, "msmith", listing) if s[0].count("count(*)") > 3]
    lines = [line.strip() for line in plan(people, *counts).splitlines()]
    tasks = [line for line in lines if line.startswith(("SEARCH tasks", "SCAN tasks"))]
    by_name = sum(line.startswith("SEARCH task_candidates") for line in lines)
    assert len(tasks) > by_name > 0 and all("COVERING INDEX" in line for line in tasks), lines


@pytest.mark.parametrize("tab", ["mine", "queue"])
def test_an_inbox_search_walks_the_open_task_indexes_alone(people, tab):
    """A search keeps the tab's tasks whose request matches: with few matches it walks every task of
    the tab, so each branch reads its tasks from its index alone (no task row is visited but the
    page's own, by id, and the offered-by-name tasks, checked by id)."""
    from engine.queries.inbox import InboxQuery, inbox_page

    if not people.is_sqlite:
        pytest.skip("PostgreSQL answers from the heap or the index as its visibility map says: SQLite's plan is fixed")

    def listing(session, user):
        inbox_page(session, user, InboxQuery(tab=tab, search="vienna"), NOW)

    [page] = [s for s in listing_statements(people, "msmith", listing) if "AS task_id" in s[0]]
    lines = [line.strip() for line in plan(people, *page).splitlines()]
    walked = [line for line in lines if line.startswith(("SEARCH tasks USING", "SCAN tasks")) and "(id=?)" not in line]
    by_name = sum(line.startswith("SEARCH task_candidates") for line in lines)
    assert len(walked) > by_name and sum("COVERING INDEX" not in line for line in walked) <= by_name, lines
