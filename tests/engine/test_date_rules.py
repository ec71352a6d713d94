"""Dates a form declares against the engine's clock (engine/date_rules.py): a trip's or visit's first
day is today or later (`x-not-past`), the day a passport came back is today or earlier
(`x-not-future`); the office (ITV coordinators, admins) may file a request after its dates, with a
reason the `started` event keeps. The clock is the suite's ManualClock: 2 Nov 2026, 14:00 UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine import PermissionDenied, ValidationFailed, audit
from engine.date_rules import date_rule_errors
from engine.models import ProcessInstance
from tests.workflows.test_conference_attendance import conference_request
from tests.workflows.test_delegation_visit import visit_request
from tests.workflows.test_passport_visa import documents_request
from tests.workflows.walk import Walker, deploy

TODAY = "2026-11-02"  # the office's date on the suite's clock
YESTERDAY = "2026-11-01"
PAST_TRIP = {"start_date": "2026-10-05", "end_date": "2026-10-08"}


@pytest.fixture
def deployed(people, engine):
    deploy(people, engine)
    return people


def start(db, engine, key, data, user, **office):
    with db.transaction() as s:
        instance = engine.start(s, key, data, user, **office)
        return instance.id


def started_event(db, instance_id):
    with db.reading() as s:
        [event] = [e for e in audit.events(s, instance_id) if e.action == "started"]
        return event.actor, dict(event.details or {})


@pytest.mark.parametrize(
    ("key", "data", "field"),
    [
        ("conference_attendance", conference_request(**PAST_TRIP), "start_date"),
        ("delegation_visit", visit_request(start_date=YESTERDAY, end_date=TODAY), "start_date"),
        ("passport_visa", documents_request(trip_start_date=YESTERDAY, trip_end_date=TODAY), "trip_start_date"),
    ],
)
def test_a_request_whose_first_day_has_passed_is_refused(deployed, engine, key, data, field):
    starter = "lokafor" if key == "delegation_visit" else "jdoe"
    with pytest.raises(ValidationFailed) as refused:
        start(deployed, engine, key, data, starter)
    assert [(e.path, e.code) for e in refused.value.errors] == [(field, "date_in_the_past")]
    assert "this date has passed: enter today (2026-11-02) or a later day" in str(refused.value)
    with deployed.reading() as s:
        assert s.query(ProcessInstance).count() == 0  # nothing filed


def test_a_trip_starting_today_is_accepted(deployed, engine):
    instance_id = start(deployed, engine, "conference_attendance", conference_request(start_date=TODAY), "jdoe")
    actor, details = started_event(deployed, instance_id)
    assert actor == "jdoe" and "past_dates_reason" not in details


def test_the_rule_follows_the_clock(deployed, engine, clock):
    data = conference_request(start_date="2026-11-03", end_date="2026-11-05")
    clock.advance(days=1)  # 3 Nov: the first day is today
    start(deployed, engine, "conference_attendance", data, "jdoe")
    clock.advance(days=1)  # 4 Nov: it has passed
    with pytest.raises(ValidationFailed) as refused:
        start(deployed, engine, "conference_attendance", data, "jdoe")
    assert [e.params for e in refused.value.errors] == [{"today": "2026-11-04"}]


def test_a_passport_return_dated_ahead_is_refused_and_today_is_accepted(deployed, engine, clock):
    w = Walker(deployed, engine, clock, "passport_visa")
    w.start("jdoe", documents_request(trip_start_date="2026-11-09", trip_end_date="2026-11-12"))
    w.do("UserTask_sign_out_passport", "ppatel", passport_signed_out_on=TODAY, traveller_acknowledged=True)
    assert w.advance_to(datetime(2026, 11, 13, 15, tzinfo=UTC)) == []  # back from the trip on the 13th
    for ahead in ("2026-11-14", "2027-05-13"):
        with pytest.raises(ValidationFailed) as refused:
            w.do("UserTask_record_passport_return", "ppatel", passport_returned_on=ahead, passport_condition="good")
        assert [(e.path, e.code) for e in refused.value.errors] == [("passport_returned_on", "date_in_the_future")]
        assert "this date is still to come: enter today (2026-11-13) or an earlier day" in str(refused.value)
    assert w.open == ["UserTask_record_passport_return"]
    w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2026-11-13", passport_condition="good")
    assert w.outcome == "Documents issued, passport returned"


def test_the_office_files_a_past_trip_with_a_reason_in_the_started_event(deployed, engine):
    reason = "Trip approved by phone; filed on return"
    for office in ("cgagnon", "admin"):
        instance_id = start(
            deployed,
            engine,
            "conference_attendance",
            conference_request(**PAST_TRIP),
            office,
            on_behalf_of="jdoe",
            past_dates_reason=reason,
        )
        actor, details = started_event(deployed, instance_id)
        assert (actor, details["on_behalf_of"], details["past_dates_reason"]) == (office, "jdoe", reason)
        with deployed.reading() as s:
            assert s.get(ProcessInstance, instance_id).started_by.username == "jdoe"


def test_only_the_office_may_file_after_the_dates(deployed, engine):
    past = conference_request(**PAST_TRIP)
    for person in ("jdoe", "msmith", "dlee", "ppatel"):  # requester, supervisor, senior management, officer
        with pytest.raises(PermissionDenied) as refused:
            start(deployed, engine, "conference_attendance", past, person, past_dates_reason="Late")
        assert refused.value.code == "past_dates_need_the_office"
    for blank in ("", "   "):
        with pytest.raises(ValidationFailed) as refused:
            start(deployed, engine, "conference_attendance", past, "cgagnon", past_dates_reason=blank)
        assert refused.value.code == "past_dates_need_a_reason"
    with deployed.reading() as s:
        assert s.query(ProcessInstance).count() == 0


def test_the_override_covers_passed_dates_only(deployed, engine):
    """A reason files a past trip, not a malformed one: the form's other rules still hold."""
    bad = conference_request(start_date="2026-10-05", end_date="2026-10-01")
    with pytest.raises(ValidationFailed) as refused:
        start(deployed, engine, "conference_attendance", bad, "cgagnon", on_behalf_of="jdoe", past_dates_reason="Late")
    assert [path for path, _ in refused.value.errors] == ["end_date"]


def test_rules_reach_nested_fields_and_ignore_what_the_schema_refuses():
    schema = {
        "properties": {
            "legs": {"type": "array", "items": {"type": "object", "properties": {"day": {"x-not-past": True}}}},
            "back": {"type": "object", "properties": {"on": {"x-not-future": True}}},
            "when": {"x-not-past": True},
        }
    }
    today = date(2026, 11, 2)
    data = {"legs": [{"day": TODAY}, {"day": YESTERDAY}], "back": {"on": "2026-11-03"}, "when": "not a date"}
    errors = date_rule_errors(schema, data, today)
    assert [(e.path, e.code) for e in errors] == [("legs.1.day", "date_in_the_past"), ("back.on", "date_in_the_future")]
    assert date_rule_errors(schema, {"legs": [{"day": TODAY}], "back": {"on": TODAY}}, today) == []
