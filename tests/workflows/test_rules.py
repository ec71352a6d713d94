"""The decision tables in bpmn/rules/, row by row.

Every row of every table has an entry below: inputs that should hit that row, and the outputs
the office expects, written out by hand (never recomputed from the DMN). A row added to a
table without a line here fails `test_every_row_of_every_table_has_a_case`. The tables are FEEL
over ISO 3166-1 alpha-2 country codes, evaluated by Waypoint's decision engine (engine/dmn), the
same one that runs them inside the processes; country names, as older requests hold them, go
through the processes' `iso_country` (`visa_check_items` for destinations) first, as the processes do.

The conventions every table keeps: hit policy FIRST, and a last row with every input cell
`-` (the catch-all), so a new row goes above it.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from engine.definitions import read_sources
from engine.dmn import Decisions, check_dmn, read_model
from engine.dmn.model import DecisionTable
from engine.feel import evaluate_value, satisfies, scope_of
from tests.conftest import make_engine
from tests.workflows.walk import BPMN
from workflows.common import iso_country
from workflows.passport_visa import visa_check_items

RULES = sorted((BPMN / "rules").glob("*.dmn"))
MODELS = [read_model(etree.parse(str(path)).getroot(), path.name)[0] for path in RULES]
ENGINE = Decisions(MODELS)
DECISIONS = sorted(d.id for m in MODELS for d in m.decisions.values())


def table(decision: str) -> DecisionTable:
    found = ENGINE.find(decision)
    assert found is not None and isinstance(found[1].body, DecisionTable)
    return found[1].body


def decide(decision: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(id of the first matching row, outputs) for `inputs`, as a business rule task computes them
    after the process has set the country code."""
    data = dict(inputs)
    if "country" in data:
        data["country_code"] = iso_country(data["country"])
    if "destination" in data:
        [data["destination"]] = visa_check_items([data["destination"]])
    scope = scope_of(data)
    rules = table(decision)
    values = [evaluate_value(clause.expression.text, scope) for clause in rules.inputs]
    matched = [
        rule.number
        for rule in rules.rules
        if all(satisfies(cell.text, value, scope) for cell, value in zip(rule.inputs, values, strict=True))
    ]
    assert matched, f"no row of {decision} matches {inputs}"
    return f"Rule_{decision}_{matched[0]}", ENGINE.outputs(decision, data)


def advisory(country):
    return {"country": country}


def route(total_cost, advisory_level, funding_source, members_attending):
    return {
        "total_cost": total_cost,
        "advisory_level": advisory_level,
        "funding_source": funding_source,
        "members_attending": members_attending,
    }


def routed(director, ethics, briefing, reason):
    return {
        "needs_senior_approval": director,
        "needs_ethics_review": ethics,
        "needs_security_briefing": briefing,
        "route_reason": reason,
    }


def level(seniority, size, sensitivity):
    return {"delegation_seniority": seniority, "delegation_size": size, "max_site_sensitivity": sensitivity}


def leveled(director, approval_level, reason):
    return {"needs_senior_approval": director, "approval_level": approval_level, "route_reason": reason}


def visa(destination, passport_type):
    return {"destination": destination, "passport_type": passport_type}


def visa_needed(destination, required, note):
    return {"visa_requirement": {"destination": destination, "required": required, "note": note}}


SCHENGEN_DIPLOMATIC = "Schengen area: visa waived for diplomatic passports"
SCHENGEN_OFFICIAL = "Schengen area: no visa for stays under 90 days"
ALL_TYPES = "Visa required for all passport types"
NOT_LISTED = "Destination not in the table: apply, and ask the passport officer to add a row"

# (decision, row id, inputs, expected outputs)
CASES = [
    # Travel advisory level by country (sample rows; names in any case).
    ("travel_advisory_level", "Rule_travel_advisory_level_1", advisory("Syria"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_1", advisory(" North Korea "), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_2", advisory("Russian Federation"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_2", advisory("Russie"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_2", advisory("russia"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_2", advisory("RU"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_2", advisory("Biélorussie"), {"advisory_level": 4}),
    ("travel_advisory_level", "Rule_travel_advisory_level_3", advisory("Nigeria"), {"advisory_level": 3}),
    ("travel_advisory_level", "Rule_travel_advisory_level_4", advisory("MEXICO"), {"advisory_level": 2}),
    ("travel_advisory_level", "Rule_travel_advisory_level_5", advisory("France"), {"advisory_level": 1}),
    ("travel_advisory_level", "Rule_travel_advisory_level_5", advisory("Nigeria and Benin"), {"advisory_level": 1}),
    # Conference approval route: director from $5,000, 4 members or advisory 3-4; ethics when a sponsor or
    # foreign government pays; security briefing from advisory 2.
    ("conference_approval_route", "Rule_conference_approval_route_1", route(1000, 3, "event_sponsor", 1),
     routed(True, True, True, "Advisory level 3-4; hospitality from a sponsor or foreign government")),
    ("conference_approval_route", "Rule_conference_approval_route_2", route(1000, 4, "own_unit", 1),
     routed(True, False, True, "Advisory level 3-4")),
    ("conference_approval_route", "Rule_conference_approval_route_3", route(5000, 2, "foreign_government", 1),
     routed(True, True, True, "Cost $5,000 or more; advisory level 2; sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_4", route(4999.99, 2, "event_sponsor", 4),
     routed(True, True, True, "4 or more members; advisory level 2; sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_5", route(4999.99, 2, "event_sponsor", 3),
     routed(False, True, True, "Advisory level 2; sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_6", route(5000, 2, "own_unit", 1),
     routed(True, False, True, "Cost $5,000 or more; advisory level 2")),
    ("conference_approval_route", "Rule_conference_approval_route_7", route(100, 2, "international_organization", 4),
     routed(True, False, True, "4 or more members; advisory level 2")),
    ("conference_approval_route", "Rule_conference_approval_route_8", route(4999.99, 2, "own_unit", 3),
     routed(False, False, True, "Advisory level 2")),
    ("conference_approval_route", "Rule_conference_approval_route_9", route(12000, 1, "event_sponsor", 1),
     routed(True, True, False, "Cost $5,000 or more; sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_10", route(800, 1, "foreign_government", 6),
     routed(True, True, False, "4 or more members; sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_11", route(800, 1, "event_sponsor", 1),
     routed(False, True, False, "Sponsored hospitality")),
    ("conference_approval_route", "Rule_conference_approval_route_12", route(5000, 1, "own_unit", 1),
     routed(True, False, False, "Cost $5,000 or more")),
    ("conference_approval_route", "Rule_conference_approval_route_13", route(800, 1, "own_unit", 4),
     routed(True, False, False, "4 or more members")),
    ("conference_approval_route", "Rule_conference_approval_route_14", route(4999.99, 1, "own_unit", 3),
     routed(False, False, False, "Standard route")),
    ("conference_approval_route", "Rule_conference_approval_route_14", route(0, 1, "international_organization", 1),
     routed(False, False, False, "Standard route")),
    # Delegation approval level: director for a head of agency, a secure site, 10+ members, or senior
    # officials at a restricted site; otherwise the ITV coordinator's approval is the last.
    ("delegation_approval_level", "Rule_delegation_approval_level_1", level("head_of_agency", 1, 1),
     leveled(True, "director", "Head of agency or ministerial delegation")),
    ("delegation_approval_level", "Rule_delegation_approval_level_2", level("working_level", 2, 3),
     leveled(True, "director", "Visit to a secure site")),
    ("delegation_approval_level", "Rule_delegation_approval_level_3", level("working_level", 10, 1),
     leveled(True, "director", "10 or more members")),
    ("delegation_approval_level", "Rule_delegation_approval_level_4", level("senior_officials", 3, 2),
     leveled(True, "director", "Senior officials visiting restricted areas")),
    ("delegation_approval_level", "Rule_delegation_approval_level_5", level("senior_officials", 9, 1),
     leveled(False, "coordinator", "Standard visit")),
    ("delegation_approval_level", "Rule_delegation_approval_level_5", level("working_level", 9, 2),
     leveled(False, "coordinator", "Standard visit")),
    # Visa requirement per destination and passport type (sample rows); not listed means apply.
    ("visa_requirement", "Rule_visa_requirement_1", visa("China", "official"), visa_needed("China", True, ALL_TYPES)),
    ("visa_requirement", "Rule_visa_requirement_1", visa("PRC", "diplomatic"), visa_needed("PRC", True, ALL_TYPES)),
    ("visa_requirement", "Rule_visa_requirement_2", visa("India", "diplomatic"), visa_needed("India", True, ALL_TYPES)),
    ("visa_requirement", "Rule_visa_requirement_3", visa("Russian Federation", "official"),
     visa_needed("Russian Federation", True, ALL_TYPES)),
    ("visa_requirement", "Rule_visa_requirement_4", visa("USA", "official"),
     visa_needed("USA", False, "No visa for official travel")),
    ("visa_requirement", "Rule_visa_requirement_5", visa("United Kingdom", "diplomatic"),
     visa_needed("United Kingdom", False, "No visa for short official visits")),
    ("visa_requirement", "Rule_visa_requirement_6", visa("Germany", "diplomatic"),
     visa_needed("Germany", False, SCHENGEN_DIPLOMATIC)),
    ("visa_requirement", "Rule_visa_requirement_6", visa("Allemagne", "diplomatic"),
     visa_needed("Allemagne", False, SCHENGEN_DIPLOMATIC)),
    ("visa_requirement", "Rule_visa_requirement_6", visa("DE", "diplomatic"),
     visa_needed("DE", False, SCHENGEN_DIPLOMATIC)),
    ("visa_requirement", "Rule_visa_requirement_7", visa("Spain", "official"),
     visa_needed("Spain", False, SCHENGEN_OFFICIAL)),
    ("visa_requirement", "Rule_visa_requirement_8", visa("Brazil", "diplomatic"),
     visa_needed("Brazil", False, "Visa waived for diplomatic passports")),
    ("visa_requirement", "Rule_visa_requirement_9", visa("Brazil", "official"),
     visa_needed("Brazil", True, NOT_LISTED)),
    ("visa_requirement", "Rule_visa_requirement_9", visa("Nigeria", "diplomatic"),
     visa_needed("Nigeria", True, NOT_LISTED)),
]  # fmt: skip


def _english(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs without their French twins (`*_fr`) and advice texts, which have their own test."""
    return {
        key: _english(value) if isinstance(value, dict) else value
        for key, value in outputs.items()
        if not key.endswith(("_fr", "_en"))
    }


@pytest.mark.parametrize(
    ("decision", "row", "inputs", "outputs"),
    CASES,
    ids=[f"{c[0]}-{c[1].rsplit('_', 1)[1]}-{'-'.join(str(v) for v in c[2].values())}" for c in CASES],
)
def test_each_row_gives_the_expected_outcome(decision, row, inputs, outputs):
    found_row, found = decide(decision, inputs)
    assert (found_row, _english(found)) == (row, outputs)


FRENCH = [
    ("travel_advisory_level", advisory("Russie"), "advisory_fr", "Éviter tout voyage"),
    ("travel_advisory_level", advisory("Russie"), "advisory_en", "Avoid all travel"),
    ("travel_advisory_level", advisory("France"), "advisory_fr", "Prendre des mesures de sécurité normales"),
    ("conference_approval_route", route(800, 1, "own_unit", 1), "route_reason_fr", "Parcours standard"),
    ("conference_approval_route", route(5000, 1, "own_unit", 1), "route_reason_fr", "Coût de 5 000 $ ou plus"),
    ("delegation_approval_level", level("working_level", 2, 3), "route_reason_fr", "Visite d'un site sécurisé"),
]


@pytest.mark.parametrize(("decision", "inputs", "output", "french"), FRENCH)
def test_text_outputs_come_in_both_languages(decision, inputs, output, french):
    assert decide(decision, inputs)[1][output] == french


def test_every_text_output_has_a_french_twin_in_every_row():
    for decision in DECISIONS:
        names = [o.name for o in table(decision).outputs]
        for name in names:
            if name.endswith(("reason", "note")):
                assert f"{name}_fr" in names, (decision, name)
        for rule in table(decision).rules:
            assert all(cell.text for cell in rule.outputs), (decision, rule.number)


def test_every_row_of_every_table_has_a_case():
    assert DECISIONS == [
        "conference_approval_route",
        "delegation_approval_level",
        "travel_advisory_level",
        "visa_requirement",
    ]
    for decision in DECISIONS:
        rows = [f"Rule_{decision}_{rule.number}" for rule in table(decision).rules]
        tested = {row for d, row, _, _ in CASES if d == decision}
        assert set(rows) == tested, f"{decision}: rows without a case: {sorted(set(rows) - tested)}"


@pytest.mark.parametrize("decision", DECISIONS)
def test_first_hit_policy_and_a_catch_all_last_row(decision):
    rules = table(decision)
    assert rules.hit_policy == "F"
    last = rules.rules[-1]
    assert all(cell.text == "-" for cell in last.inputs), f"row {last.number} is not a catch-all"
    for rule in rules.rules[:-1]:
        assert any(cell.text != "-" for cell in rule.inputs), f"row {rule.number} would hide the rows below"


@pytest.mark.parametrize("path", RULES, ids=[p.name for p in RULES])
def test_the_tables_are_feel_and_every_cell_reads(path):
    root = etree.parse(str(path)).getroot()
    assert "FEEL" in root.get("expressionLanguage")
    assert check_dmn(path.name, root) == []


def test_the_process_content_passes_waypoint_check():
    assert make_engine().check(read_sources([BPMN])) == []
