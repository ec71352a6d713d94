"""Glue for `passport_visa`: passport validity, visa bookkeeping, summary and form validators.

The process runs on its own (start form forms/passport_visa_request.schema.json) or as a call
activity from conference_attendance, which maps its fields to the same names before the call.
Which destinations need a visa is decided by bpmn/rules/visa_requirement.dmn; the helpers
here only assemble and read the records the process keeps.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from engine.countries import country_name
from engine.glue import GlueRegistry
from workflows.common import (
    Errors,
    add_months_to,
    check_date_order,
    check_passport,
    format_date_range,
    in_language,
    is_blank,
    iso_country,
    join_parts,
    parse_date,
    require_comment,
    require_fields,
)

#: A passport must stay valid this many months after the return date.
VALIDITY_MONTHS_AFTER_RETURN = 6
#: The passport is due back at the office this many days after the return date.
RETURN_DAYS_AFTER_TRIP = 5


def passport_renewal_required(current_passport: Mapping[str, Any] | None, trip_end_date: str) -> bool:
    """True when no valid passport is held or it expires within 6 months of the return date."""
    if not isinstance(current_passport, Mapping) or current_passport.get("held") is not True:
        return True
    expiry, back = parse_date(current_passport.get("expiry")), parse_date(trip_end_date)
    if expiry is None or back is None:
        return True
    return expiry < add_months_to(back, VALIDITY_MONTHS_AFTER_RETURN)


def passport_return_due_date(trip_end_date: str) -> str:
    """The date the passport is due back at the office: the return date plus 5 days (ISO)."""
    back = parse_date(trip_end_date)
    if back is None:
        raise ValueError(f"not a date: {trip_end_date!r}")
    return (back + datetime.timedelta(days=RETURN_DAYS_AFTER_TRIP)).isoformat()


def _country_key(destination: Any) -> str:
    """A destination as the visa table compares it: its ISO code (a name typed by hand: trimmed, lower case)."""
    return iso_country(destination) or str(destination or "").strip().lower()


def visa_check_items(destinations: Iterable[Any]) -> list[dict[str, Any]]:
    """One record per destination for the visa table: the destination as the request holds it
    (`name`) and its ISO 3166-1 alpha-2 code (`code`), which is what the table matches."""
    return [{"name": d, "code": iso_country(d)} for d in destinations or []]


def destinations_requiring_visa(visa_requirements: Iterable[Mapping[str, Any]]) -> list[str]:
    """Destinations whose visa_requirement record (from the DMN table) says a visa is required.

    One entry per country: "China" and " china" are the same destination for the table, so they
    must not become two visa applications.
    """
    seen: list[str] = []
    keys: set[str] = set()
    for record in visa_requirements or []:
        destination = record.get("destination") or ""
        key = _country_key(destination)
        if record.get("required") is True and key and key not in keys:
            keys.add(key)
            seen.append(destination)
    return seen


def manual_passport_issuance(application_ref: str, passport_number: str, expiry_date: str) -> dict[str, Any]:
    """A passport_issued record for an issuance the officer recorded by hand (same shape as the message)."""
    return {
        "application_ref": application_ref,
        "passport_number": passport_number,
        "expiry_date": expiry_date,
        "source": "officer",
    }


def passport_record_from_issuance(passport_issued: Mapping[str, Any]) -> dict[str, Any]:
    """The current_passport record {held, number, expiry} for a newly issued passport."""
    return {
        "held": True,
        "number": passport_issued.get("passport_number"),
        "expiry": passport_issued.get("expiry_date"),
    }


def manual_visa_decision(visa_ref: str, decision: str) -> dict[str, Any]:
    """A visa_decision record for a decision the officer recorded by hand (same shape as the message)."""
    return {"visa_ref": visa_ref, "decision": decision, "source": "officer"}


def visa_result_record(visa_destination: str, visa_ref: str, visa_decision: Mapping[str, Any]) -> dict[str, Any]:
    """One visa instance's outcome: {destination, visa_ref, decision} with decision granted or refused."""
    decision = str(visa_decision.get("decision", "")).strip().lower()
    if decision not in ("granted", "refused"):
        raise ValueError(f"visa decision must be 'granted' or 'refused', got {decision!r}")
    return {"destination": visa_destination, "visa_ref": visa_ref, "decision": decision}


def refused_visa_destinations(visa_results: Iterable[Mapping[str, Any]]) -> list[str]:
    """Destinations whose visa was refused."""
    return [r.get("destination", "") for r in visa_results or [] if r.get("decision") == "refused"]


def summary(data: Mapping[str, Any], language: str = "en") -> str:
    """Inbox line: "Jane Doe — travel documents: France, Germany — 4–7 Nov" (French: "Jane Doe —
    documents de voyage : France, Allemagne — 4–7 nov.")."""
    destinations = data.get("destinations") or []
    names = [country_name(d, language) for d in destinations] if isinstance(destinations, list) else [str(destinations)]
    where = ", ".join(names)  # a picked code shows as its name, as the summary is searched
    what = in_language(language, "travel documents", "documents de voyage")
    return join_parts(
        data.get("traveller_name") or data.get("requester_name"),
        in_language(language, f"{what}: {where}", f"{what} : {where}") if where else what,
        format_date_range(data.get("trip_start_date"), data.get("trip_end_date"), language=language),
    )


def validate_request(data: Mapping[str, Any]) -> Errors:
    """Start form: dates in order, at least one destination (each once), passport details when one is held."""
    errors = check_date_order(
        data, "trip_start_date", "trip_end_date", "The return date must be on or after the departure date."
    )
    destinations = data.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        errors.append(("destinations", "Give at least one destination."))
    else:
        seen: set[str] = set()
        for i, destination in enumerate(destinations):
            if is_blank(destination):
                errors.append((f"destinations.{i}", "Enter a country."))
            elif _country_key(destination) in seen:
                errors.append((f"destinations.{i}", "This destination is already listed."))
            else:
                seen.add(_country_key(destination))
    return errors + check_passport(data.get("current_passport"), "current_passport")


def validate_passport_follow_up(data: Mapping[str, Any]) -> Errors:
    """Recording an issued passport needs its number and expiry date."""
    if data.get("passport_followup_action") != "record_issued":
        return []
    errors = require_fields(data, ("followup_passport_number",), message="Enter the passport number.")
    if parse_date(data.get("followup_passport_expiry")) is None:
        errors.append(("followup_passport_expiry", "Enter the expiry date (YYYY-MM-DD)."))
    return errors


def validate_visa_follow_up(data: Mapping[str, Any]) -> Errors:
    """Recording a decision needs the decision."""
    decided = data.get("visa_followup_decision") in ("granted", "refused")
    if data.get("visa_followup_action") == "record_decision" and not decided:
        return [("visa_followup_decision", "Choose granted or refused.")]
    return []


def validate_sign_out(data: Mapping[str, Any]) -> Errors:
    """The passport is signed out no later than the return date."""
    out, back = parse_date(data.get("passport_signed_out_on")), parse_date(data.get("trip_end_date"))
    if out is None:
        return [("passport_signed_out_on", "Enter the sign-out date (YYYY-MM-DD).")]
    if back is not None and out > back:
        return [("passport_signed_out_on", "The sign-out date is after the trip's return date.")]
    return []


def validate_return_reminder(data: Mapping[str, Any]) -> Errors:
    """A promised return needs a date; a lost or stolen passport needs an explanation."""
    errors = require_comment(
        data,
        "return_reminder_response",
        ("lost_or_stolen",),
        "return_reminder_note",
        "Say when and where the passport was lost or stolen.",
    )
    if data.get("return_reminder_response") == "will_return" and parse_date(data.get("expected_return_date")) is None:
        errors.append(("expected_return_date", "Enter the date you will return the passport."))
    return errors


def validate_custody_escalation(data: Mapping[str, Any]) -> Errors:
    """The supervisor says what was done."""
    return require_fields(data, ("escalation_comment",), message="Describe the follow-up.")


def validate_return(data: Mapping[str, Any]) -> Errors:
    """A damaged or lost passport needs a note; the return is not before the sign-out."""
    errors = require_comment(
        data, "passport_condition", ("damaged", "lost"), "return_note", "Describe the damage or the loss."
    )
    returned, out = parse_date(data.get("passport_returned_on")), parse_date(data.get("passport_signed_out_on"))
    if returned is None:
        errors.append(("passport_returned_on", "Enter the return date (YYYY-MM-DD)."))
    elif out is not None and returned < out:
        errors.append(("passport_returned_on", "The return date is before the sign-out date."))
    return errors


def facets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Report facets: the first destination and the trip dates."""
    destinations = data.get("destinations") or []
    first = destinations[0] if isinstance(destinations, list) and destinations else None
    return {
        "country": first,
        "starts_on": data.get("trip_start_date"),
        "ends_on": data.get("trip_end_date"),
    }


#: The functions this process's BPMN scripts, conditions and DMN cells call.
HELPERS = (
    iso_country,
    visa_check_items,
    passport_renewal_required,
    passport_return_due_date,
    destinations_requiring_visa,
    manual_passport_issuance,
    passport_record_from_issuance,
    manual_visa_decision,
    visa_result_record,
    refused_visa_destinations,
)


def register(glue: GlueRegistry) -> None:
    """Register this module's script helpers and process glue with `glue`."""
    for helper in HELPERS:
        glue.helper(helper)
    glue.process(
        "passport_visa",
        summary=summary,
        validators={
            "forms/passport_visa_request.schema.json": validate_request,
            "forms/passport_follow_up.schema.json": validate_passport_follow_up,
            "forms/visa_follow_up.schema.json": validate_visa_follow_up,
            "forms/passport_sign_out.schema.json": validate_sign_out,
            "forms/passport_return_reminder.schema.json": validate_return_reminder,
            "forms/passport_custody_escalation.schema.json": validate_custody_escalation,
            "forms/passport_return.schema.json": validate_return,
        },
        facets=facets,
        retention="P2Y",
    )
