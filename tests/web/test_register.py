"""The register of requests (/requests): the ITV coordinator sees every request; a requester sees
only theirs (and those they worked on); search by text or reference, filters, keyset pages and the
CSV follow the same visibility. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from engine.people.users import find_user
from engine.queries.register import RegisterFilters, register_page
from tests.workflows.test_forms import CONFERENCE


@pytest.fixture
def filed(app, engine):
    """Three conference requests by jdoe, one by rmartin, and one small approval by jdoe."""
    db = app.extensions["waypoint.db"]
    ids = {}
    with db.transaction() as s:
        for event, city, who in (
            ("Lyon Assembly", "Lyon", "jdoe"),
            ("Madrid Forum", "Madrid", "jdoe"),
            ("Vienna Seminar", "Vienna", "jdoe"),
            ("Oslo Workshop", "Oslo", "rmartin"),
        ):
            data = {**CONFERENCE, "event_name": event, "city": city}
            ids[event] = engine.start(s, "conference_attendance", data, who).id
        ids["small"] = engine.start(s, "small_approval", {"title": "Laptop", "amount": 5}, "jdoe").id
    return ids


def rows_of(html: str) -> list[str]:
    import re

    return re.findall(r'href="/requests/(\d+)"', html)


def test_coordinator_sees_all_requester_sees_theirs(as_user, filed):
    every = rows_of(as_user("cgagnon").get("/requests").text)
    assert sorted(map(int, every)) == sorted(filed.values())
    mine = rows_of(as_user("rmartin").get("/requests").text)
    assert mine == [str(filed["Oslo Workshop"])]
    newest_first = [int(i) for i in every]
    assert newest_first == sorted(newest_first, reverse=True)


def test_search_filters_and_reference(as_user, filed):
    coordinator = as_user("cgagnon")
    assert rows_of(coordinator.get("/requests?q=madrid").text) == [str(filed["Madrid Forum"])]
    assert rows_of(coordinator.get(f"/requests?q=%23{filed['Oslo Workshop']}").text) == [str(filed["Oslo Workshop"])]
    assert rows_of(coordinator.get("/requests?q=100%25").text) == []  # LIKE wildcards are text
    only_small = rows_of(coordinator.get("/requests?process=small_approval").text)
    assert only_small == [str(filed["small"])]
    at_supervisor = rows_of(coordinator.get("/requests?step=Supervisor+review&process=conference_attendance").text)
    assert len(at_supervisor) == 4 and str(filed["small"]) not in at_supervisor
    assert rows_of(coordinator.get("/requests?step=Confirm+funds").text) == []
    assert rows_of(coordinator.get("/requests?status=completed").text) == []
    page = coordinator.get("/requests?q=Vienna").text
    assert "Supervisor review" in page and "Jane Doe" in page


def test_keyset_pages_and_csv(app, as_user, filed):
    db = app.extensions["waypoint.db"]
    with db.reading() as s:
        coordinator = find_user(s, "cgagnon")
        today = app.extensions["waypoint.engine"].today()
        first = register_page(s, coordinator, RegisterFilters(), limit=2, today=today)
        second = register_page(s, coordinator, RegisterFilters(), after=first.next_after, limit=2, today=today)
        third = register_page(s, coordinator, RegisterFilters(), after=second.next_after, limit=2, today=today)
    shown = [r.id for r in first.rows + second.rows + third.rows]
    assert shown == sorted(filed.values(), reverse=True) and third.next_after is None
    assert first.total == 5 and not first.capped

    exported = as_user("rmartin").get("/requests.csv?q=o")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["reference"]) for r in rows] == [filed["Oslo Workshop"]]
    assert rows[0]["open_steps"] == "Supervisor review" and rows[0]["status"] == "running"
    assert rows[0]["where_it_stands"] == "En attente d’approbation par Marc Smith"  # as the page says it, in French


def test_register_link_and_french_page(as_user, filed):
    page = as_user("rmartin").get("/requests").text  # rmartin reads French
    assert 'href="/requests"' in page and "Demandes" in page and "Examen par le superviseur" in page
