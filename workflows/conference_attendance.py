"""Glue for `conference_attendance`: script helpers, inbox summary and form validators.

The BPMN (bpmn/conference_attendance.bpmn) calls the helpers below from its script tasks;
the approval route itself lives in the DMN tables bpmn/rules/travel_advisory.dmn and
bpmn/rules/conference_approval_route.dmn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.glue import GlueRegistry
from workflows.common import (
    Errors,
    as_number,
    check_date_order,
    check_passport,
    format_date_range,
    format_money,
    is_blank,
    iso_country,
    join_parts,
    parse_date,
    require_comment,
    require_fields,
)

COST_LINES = ("registration", "airfare", "lodging", "per_diem", "other")
ROLE_LABELS = {"attendee": "attendee", "presenter": "presenter", "panelist": "panelist", "organizer": "organizer"}


def conference_total_cost(costs: Mapping[str, Any] | None) -> float:
    """Sum of the cost lines (registration, airfare, lodging, per diem, other), rounded to cents."""
    if not isinstance(costs, Mapping):
        return 0.0
    return round(sum(as_number(costs.get(line)) or 0.0 for line in COST_LINES), 2)


def conference_trip_days(start_date: str, end_date: str) -> int:
    """Number of travel days, both ends included (0 when a date is missing or out of order)."""
    first, last = parse_date(start_date), parse_date(end_date)
    if first is None or last is None or last < first:
        return 0
    return (last - first).days + 1


def conference_travel_authority_number(itv_file_number: str, start_date: str) -> str:
    """The travel authority number derived from the ITV file number: TA-<year>-<file number>."""
    first = parse_date(start_date)
    year = first.year if first else 0
    return f"TA-{year:04d}-{str(itv_file_number).strip().upper()}"


def conference_travel_purpose(event_name: str, city: str, attendance_role: str) -> str:
    """The purpose line handed to passport_visa, e.g. "Conference: Interpol GA, Lyon (presenter)"."""
    role = ROLE_LABELS.get(attendance_role, str(attendance_role or ""))
    return f"Conference: {event_name}, {city}" + (f" ({role})" if role else "")


def summary(data: Mapping[str, Any], language: str = "en") -> str:
    """Inbox line: "Jane Doe — Interpol General Assembly, Lyon, 4–7 Nov — $4,310"
    (French: "… 4–7 nov. — 4 310 $")."""
    total = data.get("total_cost")
    if total is None and isinstance(data.get("costs"), Mapping):
        total = conference_total_cost(data.get("costs"))
    event = ", ".join(str(p) for p in (data.get("event_name"), data.get("city")) if p)
    dates = format_date_range(data.get("start_date"), data.get("end_date"), language=language)
    what = ", ".join(p for p in (event, dates) if p)
    return join_parts(data.get("requester_name") or data.get("requester"), what, format_money(total, language))


def validate_request(data: Mapping[str, Any]) -> Errors:
    """Start (and amendment) form: dates in order, costs not negative, other costs explained."""
    errors = check_date_order(data, "start_date", "end_date", "The end date must be on or after the start date.")
    costs = data.get("costs")
    if not isinstance(costs, Mapping):
        errors.append(("costs", "Enter the estimated costs."))
    else:
        for line in COST_LINES:
            amount = as_number(costs.get(line))
            if amount is None:
                errors.append((f"costs.{line}", "Enter an amount (0 if none)."))
            elif amount < 0:
                errors.append((f"costs.{line}", "Costs cannot be negative."))
        if (as_number(costs.get("other")) or 0) > 0 and is_blank(data.get("other_cost_description")):
            errors.append(("other_cost_description", "Describe the other costs."))
    members = data.get("members_attending")
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        errors.append(("members_attending", "At least one member must attend."))
    return errors


def validate_supervisor_review(data: Mapping[str, Any]) -> Errors:
    """A comment is required to reject or to return for changes."""
    return require_comment(
        data,
        "supervisor_decision",
        ("reject", "return"),
        "supervisor_comment",
        "Explain the rejection or the changes needed.",
    )


def validate_overdue_followup(data: Mapping[str, Any]) -> Errors:
    """Reassignment must say to whom."""
    return require_comment(
        data, "followup_action", ("reassigned",), "followup_note", "Say to whom the approval was reassigned."
    )


def validate_finance_review(data: Mapping[str, Any]) -> Errors:
    """Confirming funds needs a cost centre; rejecting needs a comment."""
    errors = require_comment(
        data, "finance_decision", ("reject",), "finance_comment", "Explain why funds cannot be confirmed."
    )
    if data.get("finance_decision") == "confirm":
        errors += require_fields(data, ("cost_centre",), message="Give the cost centre.")
    return errors


def validate_ethics_review(data: Mapping[str, Any]) -> Errors:
    """Conditions are required with a conditional approval; a comment with a rejection."""
    return require_comment(
        data, "ethics_decision", ("approve_with_conditions",), "ethics_conditions", "State the conditions."
    ) + require_comment(data, "ethics_decision", ("reject",), "ethics_comment", "Explain the rejection.")


def validate_senior_approval(data: Mapping[str, Any]) -> Errors:
    """A comment is required to reject."""
    return require_comment(data, "senior_decision", ("reject",), "senior_comment", "Explain the rejection.")


def validate_trip_registration(data: Mapping[str, Any]) -> Errors:
    """When official documents are needed: passport type and the passport currently held."""
    if data.get("official_documents_needed") is not True:
        return []
    errors = require_fields(data, ("passport_type",), message="Choose the passport type.")
    return errors + check_passport(data.get("current_passport"), "current_passport")


def validate_security_briefing(data: Mapping[str, Any]) -> Errors:
    """The briefing is given before departure."""
    briefed, departure = parse_date(data.get("briefing_date")), parse_date(data.get("start_date"))
    if briefed is None:
        return [("briefing_date", "Enter the briefing date (YYYY-MM-DD).")]
    if departure is not None and briefed > departure:
        return [("briefing_date", "The briefing must take place on or before the departure date.")]
    return []


def validate_trip_report(data: Mapping[str, Any]) -> Errors:
    """The actual cost cannot be negative."""
    cost = as_number(data.get("actual_total_cost"))
    if cost is None or cost < 0:
        return [("actual_total_cost", "Enter the actual total cost (0 or more).")]
    return []


def approved(data: Mapping[str, Any]) -> bool:
    """A conference trip counts as approved once its travel authority is issued."""
    return data.get("travel_authority_status") == "issued"


def facets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Report facets: destination country and trip dates."""
    return {
        "country": data.get("country"),
        "starts_on": data.get("start_date"),
        "ends_on": data.get("end_date"),
    }


#: The functions this process's BPMN scripts, conditions and DMN cells call.
HELPERS = (
    iso_country,
    conference_total_cost,
    conference_trip_days,
    conference_travel_authority_number,
    conference_travel_purpose,
)


def register(glue: GlueRegistry) -> None:
    """Register this module's script helpers and process glue with `glue`."""
    for helper in HELPERS:
        glue.helper(helper)
    glue.process(
        "conference_attendance",
        summary=summary,
        validators={
            "forms/conference_request.schema.json": validate_request,
            "forms/conference_supervisor_review.schema.json": validate_supervisor_review,
            "forms/conference_overdue_followup.schema.json": validate_overdue_followup,
            "forms/conference_finance_review.schema.json": validate_finance_review,
            "forms/conference_ethics_review.schema.json": validate_ethics_review,
            "forms/conference_senior_approval.schema.json": validate_senior_approval,
            "forms/conference_trip_registration.schema.json": validate_trip_registration,
            "forms/conference_security_briefing.schema.json": validate_security_briefing,
            "forms/conference_trip_report.schema.json": validate_trip_report,
        },
        approved=approved,
        facets=facets,
        retention="P2Y",
    )
