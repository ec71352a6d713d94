"""The Python glue in workflows/: script helpers, inbox summary lines, and how it is registered.

The helpers carry business rules of their own (a passport must stay valid 6 months after the
return; it is due back 5 days after the trip; the travel authority number is TA-<year>-<file>;
a member without a screening result is not cleared), so they are pinned here with their edge
cases. The registration tests make sure every validator is attached to a form that exists and
every helper is used by a process, so a typo cannot silently switch a check off.
"""

from __future__ import annotations

import datetime

import pytest

import workflows
from engine.clock import frozen_time
from engine.scripting import builtin_helpers
from tests.workflows.walk import BPMN
from workflows import common
from workflows.conference_attendance import (
    conference_total_cost,
    conference_travel_authority_number,
    conference_travel_purpose,
    conference_trip_days,
)
from workflows.conference_attendance import summary as conference_summary
from workflows.delegation_visit import (
    cleared_delegation_members,
    delegation_max_site_sensitivity,
    delegation_members_with_refs,
    screening_record,
    screening_summary,
    uncleared_member_names,
)
from workflows.delegation_visit import summary as delegation_summary
from workflows.passport_visa import (
    destinations_requiring_visa,
    manual_passport_issuance,
    manual_visa_decision,
    passport_record_from_issuance,
    passport_renewal_required,
    passport_return_due_date,
    refused_visa_destinations,
    visa_result_record,
)
from workflows.passport_visa import summary as passport_summary

GLUE = workflows.registry()
#: the time summary lines are written at (an action's, as the engine saves them): dates of 2026 show no year
IN_2026 = datetime.datetime(2026, 11, 2, 14, 0, tzinfo=datetime.UTC)


@pytest.fixture
def in_2026():
    with frozen_time(IN_2026):
        yield


# --- summary lines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {
                "requester_name": "Jane Doe",
                "event_name": "Interpol General Assembly",
                "city": "Lyon",
                "start_date": "2026-11-04",
                "end_date": "2026-11-07",
                "total_cost": 4310,
            },
            "Jane Doe — Interpol General Assembly, Lyon, 4–7 Nov — $4,310",
        ),
        (  # before the costs script ran, the total comes from the cost lines
            {
                "requester": "jdoe",
                "event_name": "RCMP-FBI summit",
                "city": "Washington",
                "start_date": "2026-12-30",
                "end_date": "2027-01-02",
                "costs": {"airfare": 812.5, "lodging": 600},
            },
            "jdoe — RCMP-FBI summit, Washington, 30 Dec 2026–2 Jan 2027 — $1,412.50",
        ),
        ({"requester_name": "Jane Doe"}, "Jane Doe"),
    ],
)
def test_conference_summary_line(in_2026, data, line):
    assert conference_summary(data) == line


def test_passport_visa_summary_line(in_2026):
    data = {
        "traveller_name": "Jane Doe",
        "requester_name": "Marc Smith",
        "destinations": ["France", "Germany"],
        "trip_start_date": "2026-10-30",
        "trip_end_date": "2026-11-02",
    }
    assert passport_summary(data) == "Jane Doe — travel documents: France, Germany — 30 Oct–2 Nov"
    assert passport_summary({"requester_name": "Marc Smith"}) == "Marc Smith — travel documents"


def test_delegation_and_screening_summary_lines(in_2026):
    visit = {
        "agency": "Bundeskriminalamt",
        "country": "Germany",
        "members": [{"name": "Hans Weber"}],
        "start_date": "2027-04-12",
        "end_date": "2027-04-12",
        "host_unit": "Federal Policing Cybercrime",
    }
    assert (
        delegation_summary(visit)
        == "Bundeskriminalamt (Germany) — 1 member — 12 Apr 2027 — host: Federal Policing Cybercrime"
    )
    assert delegation_summary({"agency": "FBI", "members": "not a list"}) == "FBI"
    screening = {"member": {"ref": "M2", "name": "Hans Weber", "nationality": "German"}, "agency": "Bundeskriminalamt"}
    assert screening_summary(screening) == "Screening — member M2 — Bundeskriminalamt"  # no name, no nationality
    assert screening_summary({"member": None}) == "Screening"


def test_every_process_has_a_summary_line():
    assert {key for key, entry in GLUE.processes.items() if entry.summary} == {
        "conference_attendance",
        "passport_visa",
        "delegation_visit",
        "security_screening",
    }


# --- conference helpers -----------------------------------------------------------------------------


def test_total_cost_adds_the_cost_lines_to_the_cent():
    assert (
        conference_total_cost({"registration": 0.1, "airfare": 0.2, "lodging": 1000, "per_diem": 10, "other": 0})
        == 1010.3
    )
    assert conference_total_cost({"airfare": 100, "limousine": 5000}) == 100  # only the form's cost lines
    assert conference_total_cost({"airfare": True, "lodging": "900"}) == 0  # not numbers
    assert conference_total_cost(None) == 0


def test_trip_days_count_both_ends():
    assert conference_trip_days("2027-03-08", "2027-03-11") == 4
    assert conference_trip_days("2027-03-08", "2027-03-08") == 1
    assert conference_trip_days("2027-03-11", "2027-03-08") == 0
    assert conference_trip_days("", "2027-03-08") == 0


def test_travel_authority_number_is_built_from_the_file_number_and_the_year():
    assert conference_travel_authority_number(" itv-2027-0042 ", "2027-03-08") == "TA-2027-ITV-2027-0042"
    assert conference_travel_authority_number("ITV-7", None) == "TA-0000-ITV-7"


def test_travel_purpose_handed_to_passport_visa():
    assert conference_travel_purpose("Interpol GA", "Lyon", "presenter") == "Conference: Interpol GA, Lyon (presenter)"
    assert conference_travel_purpose("Interpol GA", "Lyon", "") == "Conference: Interpol GA, Lyon"


# --- passport and visa helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passport", "trip_end", "renewal"),
    [
        ({"held": False}, "2027-03-11", True),
        (None, "2027-03-11", True),
        ({"held": True, "number": "AB1", "expiry": None}, "2027-03-11", True),
        ({"held": True, "number": "AB1", "expiry": "2027-09-10"}, "2027-03-11", True),
        ({"held": True, "number": "AB1", "expiry": "2027-09-11"}, "2027-03-11", False),
        # 6 months after 31 August is the last day of February
        ({"held": True, "number": "AB1", "expiry": "2028-02-28"}, "2027-08-31", True),
        ({"held": True, "number": "AB1", "expiry": "2028-02-29"}, "2027-08-31", False),
        ({"held": True, "number": "AB1", "expiry": "2031-01-01"}, "not a date", True),
    ],
)
def test_passport_must_stay_valid_6_months_after_the_return(passport, trip_end, renewal):
    assert passport_renewal_required(passport, trip_end) is renewal


def test_passport_is_due_back_5_days_after_the_trip():
    assert passport_return_due_date("2027-03-11") == "2027-03-16"
    assert passport_return_due_date("2027-12-29") == "2028-01-03"
    with pytest.raises(ValueError):
        passport_return_due_date("")


def test_visa_destinations_keep_order_and_name_each_country_once():
    records = [
        {"destination": "China", "required": True},
        {"destination": "France", "required": False},
        {"destination": "India", "required": True},
        {"destination": "China", "required": True},
        {"destination": " CHINA ", "required": True},  # the same country for the visa table
        {"destination": "", "required": True},
        {"destination": "Peru", "required": "yes"},
    ]
    assert destinations_requiring_visa(records) == ["China", "India"]
    assert destinations_requiring_visa(None) == []


def test_issuance_recorded_by_the_officer_has_the_message_shape():
    issued = manual_passport_issuance("PPT-1", "AB765432", "2032-06-30")
    assert issued == {
        "application_ref": "PPT-1",
        "passport_number": "AB765432",
        "expiry_date": "2032-06-30",
        "source": "officer",
    }
    assert passport_record_from_issuance(issued) == {"held": True, "number": "AB765432", "expiry": "2032-06-30"}
    assert manual_visa_decision("V-1", "refused") == {"visa_ref": "V-1", "decision": "refused", "source": "officer"}


def test_a_visa_decision_is_granted_or_refused():
    assert visa_result_record("China", "V-1", {"decision": " Granted "}) == {
        "destination": "China",
        "visa_ref": "V-1",
        "decision": "granted",
    }
    with pytest.raises(ValueError):
        visa_result_record("China", "V-1", {"decision": "pending"})
    results = [{"destination": "China", "decision": "refused"}, {"destination": "India", "decision": "granted"}]
    assert refused_visa_destinations(results) == ["China"]
    assert refused_visa_destinations(None) == []


# --- delegation helpers -------------------------------------------------------------------------------


def test_members_get_stable_references_without_touching_the_input():
    members = [{"name": "Hans"}, {"name": "Petra", "ref": "X9"}, {"name": "Omar"}]
    assert [m["ref"] for m in delegation_members_with_refs(members)] == ["M1", "X9", "M3"]
    assert "ref" not in members[0]


def test_site_sensitivity_is_the_highest_level_visited():
    assert delegation_max_site_sensitivity([{"sensitivity": 1}, {"sensitivity": 3}, {"sensitivity": 2}]) == 3
    assert delegation_max_site_sensitivity([{"sensitivity": True}, {"sensitivity": "3"}]) == 1
    assert delegation_max_site_sensitivity([]) == 1


def test_screening_results_are_matched_to_members_by_reference():
    members = [
        {"ref": "M1", "name": "Hans", "passport_number": "C01"},
        {"ref": "M2", "name": "Petra"},
        {"ref": "M3", "name": "Omar"},
    ]
    screenings = [screening_record(members[0], "cleared"), screening_record(members[2], "not_cleared")]
    assert screenings[0] == {"member_ref": "M1", "name": "Hans", "result": "cleared"}  # no passport number
    assert [m["name"] for m in cleared_delegation_members(members, screenings)] == ["Hans"]
    assert uncleared_member_names(members, screenings) == ["Petra", "Omar"]  # no result counts as not cleared


# --- common building blocks ---------------------------------------------------------------------------


def test_money_and_date_range_formats(in_2026):
    assert [common.format_money(v) for v in (4310, 4310.5, 0, None, "12", True)] == [
        "$4,310",
        "$4,310.50",
        "$0",
        "",
        "",
        "",
    ]
    # an amount the form lets through (no maximum) but Babel cannot round: as written, never an error
    assert [common.format_money(v) for v in (1e100, float("inf"))] == ["1e+100", "inf"]
    assert conference_summary({"requester_name": "Jane", "costs": {"registration": 1e100}}).endswith("1e+100")
    assert common.format_date_range("2026-11-04", "2026-11-07") == "4–7 Nov"
    assert common.format_date_range("2026-10-30", "2026-11-02") == "30 Oct–2 Nov"
    assert common.format_date_range("2026-12-30", "2027-01-02") == "30 Dec 2026–2 Jan 2027"
    assert common.format_date_range("2026-11-04", None) == "4 Nov"
    assert common.format_date_range("soon", "2026-11-04") == ""
    # a range outside this year carries its year (lists then never leave the year to guess)
    assert common.format_date_range("2027-03-08", "2027-03-11") == "8–11 Mar 2027"
    assert common.format_date_range("2025-10-30", "2025-11-02") == "30 Oct–2 Nov 2025"
    assert common.format_date_range("2027-04-12", "2027-04-12") == "12 Apr 2027"
    assert common.format_date_range("2027-03-08", "2027-03-11", this_year=2027) == "8–11 Mar"


def test_a_summary_carries_the_year_of_the_action_that_writes_it():
    trip = {"traveller_name": "Jane Doe", "trip_start_date": "2027-03-08", "trip_end_date": "2027-03-11"}
    with frozen_time(IN_2026):
        assert passport_summary(trip) == "Jane Doe — travel documents — 8–11 Mar 2027"
    with frozen_time(IN_2026 + datetime.timedelta(days=60)):  # the same request, saved again in January
        assert passport_summary(trip) == "Jane Doe — travel documents — 8–11 Mar"
    assert GLUE.summary_for("passport_visa", trip, IN_2026) == "Jane Doe — travel documents — 8–11 Mar 2027"


def test_dates_and_months():
    assert common.parse_date("2026-11-04T09:30:00-05:00") == datetime.date(2026, 11, 4)
    assert common.parse_date("04/11/2026") is None
    assert common.add_months_to(datetime.date(2027, 1, 31), 1) == datetime.date(2027, 2, 28)
    assert common.add_months_to(datetime.date(2027, 11, 15), 3) == datetime.date(2028, 2, 15)


def test_validator_building_blocks():
    assert common.check_date_order({"a": "2027-01-02", "b": "2027-01-01"}, "a", "b") == [
        ("b", "The end date must be on or after the start date.")
    ]
    assert common.check_date_order({"a": "tomorrow", "b": "2027-01-01"}, "a", "b") == [
        ("a", "Enter a valid date (YYYY-MM-DD).")
    ]
    assert common.check_passport({"held": False}, "p") == []
    assert common.check_passport("yes", "p") == [("p", "Say whether a valid official or diplomatic passport is held.")]
    assert [path for path, _ in common.check_passport({"held": True, "number": " "}, "p")] == ["p.number", "p.expiry"]
    assert common.require_comment({"d": "reject", "c": "  "}, "d", ("reject",), "c") == [
        ("c", "A comment is required for this decision.")
    ]


# --- registration -------------------------------------------------------------------------------------


def test_validators_are_attached_to_forms_that_exist():
    for key, entry in GLUE.processes.items():
        for form in entry.validators:
            assert (BPMN / form).is_file(), f"{key}: validator registered for a missing form {form}"


def test_helpers_do_not_shadow_the_engine_built_ins_and_are_all_used():
    assert not set(GLUE.helpers) & set(builtin_helpers())
    content = "\n".join(p.read_text(encoding="utf-8") for p in [*BPMN.glob("*.bpmn"), *BPMN.glob("rules/*.dmn")])
    unused = sorted(name for name in GLUE.helpers if f"{name}(" not in content)
    assert unused == []
