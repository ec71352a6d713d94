"""Reports: who may see them, the dashboard's numbers, CSV exports (formula-safe)."""

from __future__ import annotations

import csv
import io

from engine.queries.reports import outcome_class, percentile


def start(app, title, user="jdoe"):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": title, "amount": 5}, user).id


def complete_review(app, instance_id, decision, user="msmith"):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    from engine.queries.tasks import list_tasks

    with db.transaction() as s:
        [task] = list_tasks(s, instance_id=instance_id)
        engine.complete(s, task.id, user, {"decision": decision})


def test_only_office_roles_see_reports(as_user):
    assert as_user("jdoe").get("/reports").status_code == 403
    assert as_user("jdoe").get("/reports/stuck.csv").status_code == 403
    for who in ("cgagnon", "dlee", "admin"):
        assert as_user(who).get("/reports").status_code == 200, who


def test_dashboard_and_exports(app, as_user, clock):
    waiting = start(app, "Waiting one")
    rejected = start(app, '=HYPERLINK("http://evil")')
    clock.advance(days=1)
    complete_review(app, rejected, "reject")
    clock.advance(days=3)  # the waiting review is now overdue (due in 2 days)
    coordinator = as_user("dlee")  # senior management, English
    page = coordinator.get("/reports")
    assert "Supervisor review" in page.text and "<svg" in page.text and "Overdue" in page.text
    stuck = list(csv.DictReader(io.StringIO(coordinator.get("/reports/stuck.csv").text)))
    assert [(r["step"], r["open"], r["overdue"]) for r in stuck] == [("Supervisor review", "1", "1")]
    overdue = list(csv.DictReader(io.StringIO(coordinator.get("/reports/overdue.csv").text)))
    assert [int(r["instance_id"]) for r in overdue] == [waiting]
    steps = list(csv.DictReader(io.StringIO(coordinator.get("/reports/time-per-step.csv").text)))
    assert [(r["step"], r["completed"], r["median_days"]) for r in steps] == [("Supervisor review", "1", "1.0")]
    e2e = list(csv.DictReader(io.StringIO(coordinator.get("/reports/end-to-end.csv").text)))
    assert (e2e[0]["rejected"], e2e[0]["approval_rate"]) == ("1", "0")
    export = coordinator.get("/reports/instances.csv?process=small_approval").text
    rows = list(csv.DictReader(io.StringIO(export)))
    assert {int(r["id"]) for r in rows} == {waiting, rejected}
    assert "'=HYPERLINK" in export  # formulas neutralised for spreadsheets
    assert coordinator.get("/reports/nope.csv").status_code == 404
    assert coordinator.get("/reports?since=not-a-date").status_code == 400


def test_percentile_and_outcome_classes():
    assert percentile([], 0.5) is None
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9.1
    assert outcome_class("completed", "Rejected by finance") == "rejected"
    assert outcome_class("completed", "Rejected: no member cleared") == "rejected"
    assert outcome_class("completed", "Visa refused") == "rejected"
    assert outcome_class("completed", "Approved, trip report filed") == "approved"
    assert outcome_class("cancelled", None) == "cancelled"


def test_calendar_and_country_filter(app, as_user, clock):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    base = {
        "event_name": "Calendar Forum",
        "organizer": "Interpol",
        "city": "Lyon",
        "start_date": "2026-11-10",
        "end_date": "2026-11-12",
        "attendance_role": "attendee",
        "purpose": "p",
        "benefit": "b",
        "costs": {"registration": 0, "airfare": 100, "lodging": 100, "per_diem": 10, "other": 0},
        "funding_source": "own_unit",
        "members_attending": 1,
    }
    with db.transaction() as s:
        lyon = engine.start(s, "conference_attendance", {**base, "country": "France"}, "jdoe").id
        engine.start(s, "conference_attendance", {**base, "country": "Japan", "event_name": "Tokyo Meet"}, "jdoe")
    viewer = as_user("dlee")
    page = viewer.get("/reports").text
    assert f'href="/requests/{lyon}"' in page and "Tokyo Meet" in page and 'id="calendar"' in page
    france = viewer.get("/reports?country=France").text
    assert "Calendar Forum" in france and "Tokyo Meet" not in france
    rows = list(csv.DictReader(io.StringIO(viewer.get("/reports/upcoming.csv?country=Japan").text)))
    assert [(r["country"], r["starts_on"]) for r in rows] == [("Japan", "2026-11-10")]


def test_the_calendar_follows_the_date_filter_and_names_are_french(app, as_user, clock):
    """Six weeks from today unless the filter gives dates: then the calendar covers those weeks.
    The French page names processes in French, never by their keys."""
    from tests.workflows.test_forms import CONFERENCE

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    spring = {**CONFERENCE, "event_name": "Spring Congress", "start_date": "2027-03-01", "end_date": "2027-03-03"}
    with db.transaction() as s:
        engine.start(s, "conference_attendance", spring, "jdoe")
    viewer = as_user("dlee")
    assert "Spring Congress" not in viewer.get("/reports").text  # months away: not in the next six weeks
    window = viewer.get("/reports?since=2027-02-22&until=2027-03-14").text
    calendar = window[window.index('id="calendar"') : window.index("</table>", window.index('id="calendar"'))]
    assert "Spring Congress" in calendar and "Trips and visits starting in the chosen dates" in window
    assert calendar.count("<tr>") - 1 == 3  # the three weeks of 22 Feb to 14 Mar

    french = as_user("cgagnon").get("/reports").text
    assert "conference_attendance</td>" not in french and "small_approval</td>" not in french
