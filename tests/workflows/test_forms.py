"""The forms in bpmn/forms/: valid bilingual JSON Schemas, and what each accepts and refuses.

A submission goes through two checks, as in `Engine.complete`: the form's JSON Schema
(`engine.forms.validate_submission`, which also refuses fields the form does not declare and the
fields the engine sets itself), then the cross-field validators the process module registered
for that form in the `workflows` glue registry (dates in order, a comment required by a decision, ...).
Each form below has one acceptable submission and the mistakes it must refuse, with the field
the error is reported on; `context` is the request data a validator compares against.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import workflows
from engine import ValidationFailed
from engine.definitions import NS, form_references
from engine.forms import validate_submission
from engine.runtime import RESERVED_FIELDS
from engine.xmlsafe import parse_xml
from tests.workflows.walk import BPMN

GLUE = workflows.registry()
FORMS = sorted(p.relative_to(BPMN).as_posix() for p in (BPMN / "forms").glob("*.schema.json"))
SENSITIVE = {"date_of_birth", "passport_number", "followup_passport_number", "current_passport.number"}


def schema_of(form: str) -> dict[str, Any]:
    return json.loads((BPMN / form).read_text(encoding="utf-8"))


def error_fields(form: str, submission: dict[str, Any], context: dict[str, Any] | None = None) -> list[str]:
    """The fields the engine would report errors on ([] when the submission is accepted)."""
    try:
        clean = validate_submission(schema_of(form), submission, reserved=RESERVED_FIELDS)
    except ValidationFailed as exc:
        return [path for path, _ in exc.errors]
    return [path for path, _ in GLUE.validate_form(form, {**(context or {}), **clean})]


PASSPORT = {"held": True, "number": "AB123456", "expiry": "2031-01-01"}
MEMBER = {
    "name": "Hans Weber",
    "title": "Director",
    "nationality": "German",
    "date_of_birth": "1970-02-03",
    "passport_number": "C01X00T47",
}
CONFERENCE = {
    "event_name": "Interpol General Assembly",
    "organizer": "Interpol",
    "city": "Lyon",
    "country": "France",
    "start_date": "2027-03-08",
    "end_date": "2027-03-11",
    "attendance_role": "presenter",
    "purpose": "Present results.",
    "benefit": "Partnerships.",
    "costs": {"registration": 900, "airfare": 1800, "lodging": 1200, "per_diem": 410, "other": 0},
    "funding_source": "own_unit",
    "members_attending": 1,
}
VISIT = {
    "agency": "Bundeskriminalamt",
    "country": "Germany",
    "purpose": "Cybercrime cooperation",
    "start_date": "2027-04-12",
    "end_date": "2027-04-14",
    "host_unit": "Federal Policing Cybercrime",
    "delegation_seniority": "working_level",
    "sites": [{"name": "HQ", "sensitivity": 1}],
    "members": [MEMBER],
}
TRAVEL_DOCUMENTS = {
    "traveller_name": "Jane Doe",
    "trip_start_date": "2027-03-08",
    "trip_end_date": "2027-03-11",
    "destinations": ["France"],
    "travel_purpose": "Europol meeting",
    "passport_type": "official",
    "current_passport": PASSPORT,
}

# form: (an acceptable submission, [(mistake, submission, the one field reported)], context)
SAMPLES: dict[str, tuple[dict, list[tuple[str, dict, str]], dict]] = {
    "forms/conference_request.schema.json": (
        CONFERENCE,
        [
            ("end before start", dict(CONFERENCE, end_date="2027-03-07"), "end_date"),
            ("not a date", dict(CONFERENCE, start_date="8 March 2027"), "start_date"),
            ("a negative cost", dict(CONFERENCE, costs=dict(CONFERENCE["costs"], airfare=-1)), "costs.airfare"),
            (
                "other costs unexplained",
                dict(CONFERENCE, costs=dict(CONFERENCE["costs"], other=25)),
                "other_cost_description",
            ),
            ("nobody attending", dict(CONFERENCE, members_attending=0), "members_attending"),
            (
                "a cost line missing",
                dict(CONFERENCE, costs={k: v for k, v in CONFERENCE["costs"].items() if k != "lodging"}),
                "costs.lodging",
            ),
            ("a field the engine computes", dict(CONFERENCE, total_cost=1), "total_cost"),
            ("a field the engine sets", dict(CONFERENCE, requester="dlee"), "requester"),
        ],
        {},
    ),
    "forms/conference_supervisor_review.schema.json": (
        {"supervisor_decision": "approve"},
        [
            ("reject without a comment", {"supervisor_decision": "reject"}, "supervisor_comment"),
            ("return without a comment", {"supervisor_decision": "return"}, "supervisor_comment"),
            ("an unknown decision", {"supervisor_decision": "maybe"}, "supervisor_decision"),
        ],
        {},
    ),
    "forms/conference_overdue_followup.schema.json": (
        {"followup_action": "reminded_supervisor"},
        [
            ("reassigned without saying to whom", {"followup_action": "reassigned"}, "followup_note"),
        ],
        {},
    ),
    "forms/conference_finance_review.schema.json": (
        {"finance_decision": "confirm", "cost_centre": "CC-4410"},
        [
            ("confirmed without a cost centre", {"finance_decision": "confirm"}, "cost_centre"),
            ("refused without a comment", {"finance_decision": "reject"}, "finance_comment"),
        ],
        {},
    ),
    "forms/conference_ethics_review.schema.json": (
        {"ethics_decision": "approve"},
        [
            ("conditions not stated", {"ethics_decision": "approve_with_conditions"}, "ethics_conditions"),
            ("reject without a comment", {"ethics_decision": "reject"}, "ethics_comment"),
        ],
        {},
    ),
    "forms/conference_senior_approval.schema.json": (
        {"senior_decision": "approve"},
        [
            ("reject without a comment", {"senior_decision": "reject"}, "senior_comment"),
        ],
        {},
    ),
    "forms/conference_trip_registration.schema.json": (
        {
            "itv_file_number": "ITV-2027-0042",
            "official_documents_needed": True,
            "passport_type": "official",
            "current_passport": PASSPORT,
        },
        [
            (
                "documents needed, no passport type",
                {"itv_file_number": "ITV-1", "official_documents_needed": True, "current_passport": PASSPORT},
                "passport_type",
            ),
            (
                "a passport held without expiry",
                {
                    "itv_file_number": "ITV-1",
                    "official_documents_needed": True,
                    "passport_type": "official",
                    "current_passport": {"held": True, "number": "AB123456"},
                },
                "current_passport.expiry",
            ),
            ("no file number", {"official_documents_needed": False}, "itv_file_number"),
        ],
        {},
    ),
    "forms/conference_security_briefing.schema.json": (
        {"briefing_date": "2027-03-01", "briefing_acknowledged": True},
        [
            (
                "briefed after departure",
                {"briefing_date": "2027-03-09", "briefing_acknowledged": True},
                "briefing_date",
            ),
        ],
        {"start_date": "2027-03-08"},
    ),
    "forms/conference_trip_report.schema.json": (
        {"report_summary": "Good contacts.", "objectives_met": "yes", "actual_total_cost": 4200},
        [
            (
                "a negative cost",
                {"report_summary": "x", "objectives_met": "yes", "actual_total_cost": -5},
                "actual_total_cost",
            ),
            (
                "an unknown answer",
                {"report_summary": "x", "objectives_met": "mostly", "actual_total_cost": 1},
                "objectives_met",
            ),
        ],
        {},
    ),
    "forms/delegation_request.schema.json": (
        VISIT,
        [
            ("no member", dict(VISIT, members=[]), "members"),
            (
                "born after the visit",
                dict(VISIT, members=[dict(MEMBER, date_of_birth="2027-05-01")]),
                "members.0.date_of_birth",
            ),
            (
                "a member's detail missing",
                dict(VISIT, members=[{k: v for k, v in MEMBER.items() if k != "title"}]),
                "members.0.title",
            ),
            (
                "a site sensitivity out of range",
                dict(VISIT, sites=[{"name": "HQ", "sensitivity": 4}]),
                "sites.0.sensitivity",
            ),
            ("last day before the first", dict(VISIT, end_date="2027-04-11"), "end_date"),
            ("an unknown seniority", dict(VISIT, delegation_seniority="minister"), "delegation_seniority"),
        ],
        {},
    ),
    "forms/delegation_host_unit_approval.schema.json": (
        {"host_unit_decision": "approve", "host_contact_name": "Sgt."},
        [
            ("approved without a contact", {"host_unit_decision": "approve"}, "host_contact_name"),
            ("reject without a comment", {"host_unit_decision": "reject"}, "host_unit_comment"),
        ],
        {},
    ),
    "forms/delegation_coordinator_approval.schema.json": (
        {"itv_decision": "approve"},
        [
            ("reject without a comment", {"itv_decision": "reject"}, "itv_comment"),
        ],
        {},
    ),
    "forms/delegation_senior_approval.schema.json": (
        {"senior_decision": "approve"},
        [
            ("reject without a comment", {"senior_decision": "reject"}, "senior_comment"),
        ],
        {},
    ),
    "forms/delegation_protocol.schema.json": (
        {
            "agenda": "Briefings",
            "transport_arranged": True,
            "interpreter_required": True,
            "interpreter_language": "German",
            "invitation_letters_sent": False,
        },
        [
            (
                "an interpreter without a language",
                {
                    "agenda": "a",
                    "transport_arranged": True,
                    "interpreter_required": True,
                    "invitation_letters_sent": False,
                },
                "interpreter_language",
            ),
            (
                "letters sent without a date",
                {
                    "agenda": "a",
                    "transport_arranged": True,
                    "interpreter_required": False,
                    "invitation_letters_sent": True,
                },
                "invitation_letters_sent_on",
            ),
        ],
        {},
    ),
    "forms/delegation_post_visit_report.schema.json": (
        {"visit_summary": "Productive", "incidents": False},
        [
            ("incidents without details", {"visit_summary": "x", "incidents": True}, "incident_details"),
        ],
        {},
    ),
    "forms/delegation_removal_notice.schema.json": (
        {"agency_notified_on": "2027-03-01"},
        [
            ("not a date", {"agency_notified_on": "yesterday"}, "agency_notified_on"),
        ],
        {},
    ),
    "forms/passport_visa_request.schema.json": (
        TRAVEL_DOCUMENTS,
        [
            ("no destination", dict(TRAVEL_DOCUMENTS, destinations=[]), "destinations"),
            (
                "a destination listed twice",
                dict(TRAVEL_DOCUMENTS, destinations=["China", "India", " china"]),
                "destinations.2",
            ),
            ("return before departure", dict(TRAVEL_DOCUMENTS, trip_end_date="2027-03-01"), "trip_end_date"),
            (
                "a passport held without its number",
                dict(TRAVEL_DOCUMENTS, current_passport={"held": True, "expiry": "2031-01-01"}),
                "current_passport.number",
            ),
            ("an unknown passport type", dict(TRAVEL_DOCUMENTS, passport_type="regular"), "passport_type"),
        ],
        {},
    ),
    "forms/passport_application.schema.json": (
        {"application_ref": "PPT-2027-001", "application_type": "new"},
        [
            ("no reference", {"application_type": "new"}, "application_ref"),
            ("an unknown type", {"application_ref": "PPT-1", "application_type": "lost"}, "application_type"),
        ],
        {},
    ),
    "forms/passport_traveller_documents.schema.json": (
        {"photos_supplied": True, "application_form_signed": True},
        [
            ("photos not answered", {"application_form_signed": True}, "photos_supplied"),
        ],
        {},
    ),
    "forms/passport_submission.schema.json": (
        {"passport_submitted_on": "2026-11-20", "submission_channel": "courier"},
        [
            (
                "an unknown channel",
                {"passport_submitted_on": "2026-11-20", "submission_channel": "fax"},
                "submission_channel",
            ),
        ],
        {},
    ),
    "forms/passport_follow_up.schema.json": (
        {"passport_followup_action": "keep_waiting"},
        [
            (
                "issued without the number",
                {"passport_followup_action": "record_issued", "followup_passport_expiry": "2032-01-01"},
                "followup_passport_number",
            ),
            (
                "issued without the expiry",
                {"passport_followup_action": "record_issued", "followup_passport_number": "AB765432"},
                "followup_passport_expiry",
            ),
        ],
        {},
    ),
    "forms/passport_issued_record.schema.json": (
        {"passport_number": "DP123456", "expiry_date": "2032-05-01"},
        [
            ("lower case number", {"passport_number": "dp123456", "expiry_date": "2032-05-01"}, "passport_number"),
            ("no expiry", {"passport_number": "DP123456"}, "expiry_date"),
        ],
        {},
    ),
    "forms/visa_decision_record.schema.json": (
        {"decision": "granted", "decided_on": "2026-12-01"},
        [
            ("no decision", {"decided_on": "2026-12-01"}, "decision"),
            ("not a decision", {"decision": "maybe"}, "decision"),
        ],
        {},
    ),
    "forms/visa_application.schema.json": (
        {"visa_ref": "V-CN-1", "visa_mission": "Embassy of China"},
        [
            ("no reference", {"visa_mission": "Embassy of China"}, "visa_ref"),
        ],
        {},
    ),
    "forms/visa_submission.schema.json": (
        {"visa_submitted_on": "2026-11-25"},
        [
            ("not a date", {"visa_submitted_on": "2026-13-01"}, "visa_submitted_on"),
        ],
        {},
    ),
    "forms/visa_follow_up.schema.json": (
        {"visa_followup_action": "record_decision", "visa_followup_decision": "granted"},
        [
            (
                "a decision recorded without the decision",
                {"visa_followup_action": "record_decision"},
                "visa_followup_decision",
            ),
        ],
        {},
    ),
    "forms/passport_sign_out.schema.json": (
        {"passport_signed_out_on": "2027-03-05", "traveller_acknowledged": True},
        [
            (
                "signed out after the return",
                {"passport_signed_out_on": "2027-03-12", "traveller_acknowledged": True},
                "passport_signed_out_on",
            ),
        ],
        {"trip_end_date": "2027-03-11"},
    ),
    "forms/passport_return.schema.json": (
        {"passport_returned_on": "2027-03-14", "passport_condition": "good"},
        [
            (
                "returned before it went out",
                {"passport_returned_on": "2027-03-01", "passport_condition": "good"},
                "passport_returned_on",
            ),
            (
                "damaged without a note",
                {"passport_returned_on": "2027-03-14", "passport_condition": "damaged"},
                "return_note",
            ),
        ],
        {"passport_signed_out_on": "2027-03-05"},
    ),
    "forms/passport_return_reminder.schema.json": (
        {"return_reminder_response": "will_return", "expected_return_date": "2027-03-20"},
        [
            ("a promise without a date", {"return_reminder_response": "will_return"}, "expected_return_date"),
            ("lost without saying how", {"return_reminder_response": "lost_or_stolen"}, "return_reminder_note"),
        ],
        {},
    ),
    "forms/passport_custody_escalation.schema.json": (
        {"escalation_action": "spoke_to_traveller", "escalation_comment": "Returning Monday"},
        [
            ("nothing said", {"escalation_action": "other"}, "escalation_comment"),
        ],
        {},
    ),
    "forms/screening_request.schema.json": (
        {"agency": "FBI", "country": "United States", "member": MEMBER},
        [
            (
                "a visitor without a name",
                {
                    "agency": "FBI",
                    "country": "United States",
                    "member": {k: v for k, v in MEMBER.items() if k != "name"},
                },
                "member.name",
            ),
        ],
        {},
    ),
    "forms/screening_review.schema.json": (
        {"screening_result": "cleared"},
        [
            ("not cleared without a reason", {"screening_result": "not_cleared"}, "screening_comment"),
            (
                "more information without the question",
                {"screening_result": "needs_information", "screening_comment": "Name match"},
                "information_requested",
            ),
        ],
        {},
    ),
    "forms/screening_information.schema.json": (
        {"information_supplied": "Postings 2010-2020"},
        [
            ("nothing supplied", {}, "information_supplied"),
        ],
        {},
    ),
}


def test_every_form_has_samples():
    assert sorted(SAMPLES) == FORMS


def test_every_form_is_used_and_every_form_used_exists():
    used = set()
    for path in sorted(BPMN.glob("*.bpmn")):
        root = parse_xml(path.read_text(encoding="utf-8"), path.name)
        for process in root.xpath("//bpmn:process", namespaces=NS):
            used |= form_references(process)[0]
    assert sorted(used) == FORMS


@pytest.mark.parametrize("form", FORMS)
def test_each_form_is_a_valid_bilingual_json_schema(form):
    schema = schema_of(form)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    for path, node in labelled_nodes(schema, "(form)"):
        assert node.get("title"), f"{form}: {path} has no title"
        french = node.get("x-fr") or {}
        assert french.get("title"), f"{form}: {path} has no French title"
        if node.get("description"):
            assert french.get("description"), f"{form}: {path} has no French description"
    for path, node in property_nodes(schema, ""):
        if path in SENSITIVE or path.rsplit(".", 1)[-1] in SENSITIVE:
            assert node.get("x-sensitive") is True, f"{form}: {path} holds personal data: mark it x-sensitive"


def labelled_nodes(schema: dict, path: str):
    """The form, every property (nested ones too) and every labelled choice."""
    yield path, schema
    for option in schema.get("oneOf", []):
        yield f"{path}={option.get('const')}", option
    for name, prop in property_nodes(schema, ""):
        yield name, prop
        for option in prop.get("oneOf", []):
            yield f"{name}={option.get('const')}", option


def property_nodes(schema: dict, prefix: str):
    for name, prop in schema.get("properties", {}).items():
        yield f"{prefix}{name}", prop
        yield from property_nodes(prop, f"{prefix}{name}.")
        if isinstance(prop.get("items"), dict):
            yield from property_nodes(prop["items"], f"{prefix}{name}.")


@pytest.mark.parametrize("form", FORMS)
def test_each_form_accepts_a_complete_submission(form):
    valid, _, context = SAMPLES[form]
    assert error_fields(form, valid, context) == []


CASES = [(form, *mistake, SAMPLES[form][2]) for form in FORMS for mistake in SAMPLES[form][1]]


@pytest.mark.parametrize(
    ("form", "mistake", "submission", "field", "context"),
    CASES,
    ids=[f"{c[0].removeprefix('forms/').removesuffix('.schema.json')}: {c[1]}" for c in CASES],
)
def test_each_form_refuses_its_mistakes(form, mistake, submission, field, context):
    assert error_fields(form, submission, context) == [field]


def test_a_form_refuses_fields_it_does_not_declare():
    form = "forms/conference_supervisor_review.schema.json"
    assert error_fields(form, {"supervisor_decision": "approve", "finance_decision": "confirm"}) == ["finance_decision"]
