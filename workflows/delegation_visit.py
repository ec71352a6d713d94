"""Glue for `delegation_visit` and `security_screening`: member bookkeeping, summaries, validators.

delegation_visit screens every member through a parallel multi-instance call of
security_screening; each instance gets one `member` and returns one `screening` record.
Members carry a `ref` ("M1", "M2", ...) so screenings can be matched back to them without
copying sensitive fields (date of birth, passport number) into the screening records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.countries import country_name
from engine.glue import GlueRegistry
from workflows.common import (
    Errors,
    check_date_order,
    format_date_range,
    in_language,
    is_blank,
    join_parts,
    parse_date,
    require_comment,
    require_fields,
)

MEMBER_FIELDS = ("name", "title", "nationality", "date_of_birth", "passport_number")


def delegation_members_with_refs(members: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The members, each with a stable `ref` ("M1", "M2", ...) unless it already has one."""
    result = []
    for index, member in enumerate(members or [], start=1):
        record = dict(member)
        record.setdefault("ref", f"M{index}")
        result.append(record)
    return result


def delegation_max_site_sensitivity(sites: Iterable[Mapping[str, Any]]) -> int:
    """The highest sensitivity level (1-3) among the sites to visit; 1 when none is given."""
    levels = [s.get("sensitivity") for s in sites or []]
    return max([lvl for lvl in levels if isinstance(lvl, int) and not isinstance(lvl, bool)] or [1])


def screening_record(member: Mapping[str, Any], screening_result: str) -> dict[str, Any]:
    """The screening output for one member: {member_ref, name, result} (no sensitive fields)."""
    return {"member_ref": member.get("ref"), "name": member.get("name"), "result": screening_result}


def _results_by_ref(screenings: Iterable[Mapping[str, Any]]) -> dict[Any, Any]:
    return {s.get("member_ref"): s.get("result") for s in screenings or []}


def cleared_delegation_members(
    members: Iterable[Mapping[str, Any]], screenings: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The members whose screening result is "cleared", in their original order."""
    results = _results_by_ref(screenings)
    return [dict(m) for m in members or [] if results.get(m.get("ref")) == "cleared"]


def uncleared_member_names(members: Iterable[Mapping[str, Any]], screenings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the members not cleared (including any without a screening result)."""
    results = _results_by_ref(screenings)
    return [str(m.get("name")) for m in members or [] if results.get(m.get("ref")) != "cleared"]


def summary(data: Mapping[str, Any], language: str = "en") -> str:
    """Inbox line: "Bundeskriminalamt (Germany) — 5 members — 4–7 Nov — host: Federal Policing"
    (French: "Bundeskriminalamt (Allemagne) — 5 membres — 4–7 nov. — unité hôte : Federal Policing")."""
    members = data.get("members") or []
    count = len(members) if isinstance(members, list) else 0
    agency = data.get("agency") or ""
    if data.get("country"):
        agency = f"{agency} ({country_name(data['country'], language)})"  # a picked code shows as its name
    plural = "s" if count != 1 else ""
    return join_parts(
        agency,
        in_language(language, f"{count} member{plural}", f"{count} membre{plural}") if count else "",
        format_date_range(data.get("start_date"), data.get("end_date"), language=language),
        in_language(language, "host: ", "unité hôte : ") + str(data["host_unit"]) if data.get("host_unit") else "",
    )


def screening_summary(data: Mapping[str, Any], language: str = "en") -> str:
    """Inbox line of one screening: "Screening — member M2 — Bundeskriminalamt" (French: "Contrôle de
    sécurité — membre M2 — …"; never the member's name or nationality: they are personal, and the engine hands
    summaries none)."""
    raw = data.get("member")
    member: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    who = in_language(language, "member ", "membre ") + str(member["ref"]) if member.get("ref") else ""
    return join_parts(in_language(language, "Screening", "Contrôle de sécurité"), who, data.get("agency"))


def _check_member(member: Any, path: str, before: Any) -> Errors:
    if not isinstance(member, Mapping):
        return [(path, "Enter the member's details.")]
    errors = require_fields(member, MEMBER_FIELDS, prefix=f"{path}.")
    born, visit = parse_date(member.get("date_of_birth")), parse_date(before)
    if member.get("date_of_birth") and born is None:
        errors.append((f"{path}.date_of_birth", "Enter a valid date (YYYY-MM-DD)."))
    elif born is not None and visit is not None and born >= visit:
        errors.append((f"{path}.date_of_birth", "The date of birth must be before the visit."))
    return errors


def validate_request(data: Mapping[str, Any]) -> Errors:
    """Start form: dates in order, at least one site and one member, members' details complete."""
    errors = check_date_order(data, "start_date", "end_date", "The last day must be on or after the first day.")
    sites = data.get("sites")
    if not isinstance(sites, list) or not sites:
        errors.append(("sites", "List at least one site."))
    else:
        for i, site in enumerate(sites):
            if not isinstance(site, Mapping) or is_blank(site.get("name")):
                errors.append((f"sites.{i}.name", "Name the site."))
            elif site.get("sensitivity") not in (1, 2, 3):
                errors.append((f"sites.{i}.sensitivity", "Choose a sensitivity level from 1 to 3."))
    members = data.get("members")
    if not isinstance(members, list) or not members:
        errors.append(("members", "List at least one delegation member."))
    else:
        for i, member in enumerate(members):
            errors += _check_member(member, f"members.{i}", data.get("start_date"))
    return errors


def validate_host_unit_approval(data: Mapping[str, Any]) -> Errors:
    """Approval names the host contact; rejection needs a comment."""
    return require_comment(
        data, "host_unit_decision", ("reject",), "host_unit_comment", "Explain the rejection."
    ) + require_comment(data, "host_unit_decision", ("approve",), "host_contact_name", "Name the host unit's contact.")


def validate_itv_approval(data: Mapping[str, Any]) -> Errors:
    """A comment is required to reject."""
    return require_comment(data, "itv_decision", ("reject",), "itv_comment", "Explain the rejection.")


def validate_senior_approval(data: Mapping[str, Any]) -> Errors:
    """A comment is required to reject."""
    return require_comment(data, "senior_decision", ("reject",), "senior_comment", "Explain the rejection.")


def validate_protocol(data: Mapping[str, Any]) -> Errors:
    """Interpreter language and letters' date when they apply."""
    errors: Errors = []
    if data.get("interpreter_required") is True:
        errors += require_fields(data, ("interpreter_language",), message="Give the interpreter's language.")
    if data.get("invitation_letters_sent") is True and parse_date(data.get("invitation_letters_sent_on")) is None:
        errors.append(("invitation_letters_sent_on", "Enter the date the letters were sent (YYYY-MM-DD)."))
    return errors


def validate_post_visit_report(data: Mapping[str, Any]) -> Errors:
    """Incidents need details."""
    if data.get("incidents") is True and is_blank(data.get("incident_details")):
        return [("incident_details", "Describe the incidents.")]
    return []


def validate_screening_request(data: Mapping[str, Any]) -> Errors:
    """A standalone screening needs the visitor's details."""
    return _check_member(data.get("member"), "member", None)


def validate_screening_review(data: Mapping[str, Any]) -> Errors:
    """A comment unless cleared; the question when more information is needed."""
    return require_comment(
        data, "screening_result", ("not_cleared", "needs_information"), "screening_comment", "Give the reason."
    ) + require_comment(
        data, "screening_result", ("needs_information",), "information_requested", "Say what information is needed."
    )


def validate_screening_information(data: Mapping[str, Any]) -> Errors:
    """The information must not be blank."""
    return require_fields(data, ("information_supplied",), message="Enter the information obtained.")


def approved(data: Mapping[str, Any]) -> bool:
    """A visit counts as approved once host unit, ITV and (when needed) the director approved."""
    senior_ok = not data.get("needs_senior_approval") or data.get("senior_decision") == "approve"
    return data.get("host_unit_decision") == "approve" and data.get("itv_decision") == "approve" and senior_ok


def facets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Report facets: the visitors' country, the host unit and the visit dates."""
    return {
        "country": data.get("country"),
        "unit": data.get("host_unit"),
        "starts_on": data.get("start_date"),
        "ends_on": data.get("end_date"),
    }


#: The functions this process's BPMN scripts, conditions and DMN cells call.
HELPERS = (
    delegation_members_with_refs,
    delegation_max_site_sensitivity,
    screening_record,
    cleared_delegation_members,
    uncleared_member_names,
)


def register(glue: GlueRegistry) -> None:
    """Register this module's script helpers and process glue with `glue`."""
    for helper in HELPERS:
        glue.helper(helper)
    glue.process(
        "delegation_visit",
        summary=summary,
        validators={
            "forms/delegation_request.schema.json": validate_request,
            "forms/delegation_host_unit_approval.schema.json": validate_host_unit_approval,
            "forms/delegation_coordinator_approval.schema.json": validate_itv_approval,
            "forms/delegation_senior_approval.schema.json": validate_senior_approval,
            "forms/delegation_protocol.schema.json": validate_protocol,
            "forms/delegation_post_visit_report.schema.json": validate_post_visit_report,
        },
        approved=approved,
        facets=facets,
        retention="P2Y",
    )

    glue.process(
        "security_screening",
        summary=screening_summary,
        validators={
            "forms/screening_request.schema.json": validate_screening_request,
            "forms/screening_review.schema.json": validate_screening_review,
            "forms/screening_information.schema.json": validate_screening_information,
        },
        retention="P2Y",
    )
