"""Simulation: every saved scenario of every real process passes; failures are told in words;
nothing touches a real database; `waypoint simulate FILE --scenario S` runs them from the shell."""

from __future__ import annotations

import json
from functools import cache

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from engine import DefinitionError
from engine.definitions import read_sources
from engine.designer.simulate import Simulator, parse_scenarios
from engine.models import ProcessInstance
from tests.conftest import make_engine
from tests.designer.conftest import BPMN, conference

SCENARIO_FILES = sorted((BPMN / "scenarios").glob("*.json"))
CASES = [
    (path.stem, scenario.name)
    for path in SCENARIO_FILES
    for scenario in parse_scenarios(path.read_text(), path.name)[1]
]


@cache
def simulator(key: str) -> Simulator:
    return Simulator(read_sources([BPMN / f"{key}.bpmn"]), key, make_engine())


def scenario(key: str, name: str):
    _, scenarios = parse_scenarios((BPMN / "scenarios" / f"{key}.json").read_text())
    return next(s for s in scenarios if s.name == name)


def test_every_real_process_has_scenarios():
    keys = {path.stem for path in BPMN.glob("*.bpmn")}
    assert keys == {path.stem for path in SCENARIO_FILES}
    assert all(sum(1 for k, _ in CASES if k == key) >= 2 for key in keys)


@pytest.mark.parametrize(("key", "name"), CASES, ids=[f"{k}: {n}" for k, n in CASES])
def test_saved_scenario_passes(key, name):
    result = simulator(key).run(scenario(key, name))
    assert result.ok, (result.error, result.failures)
    assert result.path and result.path[0]["state"] == "done"
    assert result.trail[0]["action"] == "started"


def test_the_path_and_flows_taken_are_reported_for_the_diagram():
    result = simulator("conference_attendance").run(
        scenario("conference_attendance", "supervisor approves, finance rejects")
    )
    visited = result.visited["conference_attendance.bpmn"]
    assert {"UserTask_supervisor_review", "Flow_supervisor_approve", "Flow_finance_reject"} <= set(visited)
    assert "UserTask_senior_approval" not in visited and result.current == {}
    assert [s["actor"] for s in result.steps] == ["jdoe", "msmith", "fchan"]  # default: assignee, then role
    assert result.data["finance_decision"] == "reject"


def test_failures_are_told_in_words():
    _, [bad] = parse_scenarios(
        json.dumps(
            {
                "start": {
                    "as": "jdoe",
                    "data": scenario("conference_attendance", "supervisor approves, finance rejects").data,
                },
                "scenarios": [
                    {
                        "name": "wrong expectations",
                        "steps": [
                            {"complete": "UserTask_supervisor_review", "data": {"supervisor_decision": "approve"}}
                        ],
                        "expect": {
                            "outcome": "Approved",
                            "open": ["UserTask_senior_approval"],
                            "data": {"total_cost": 1},
                        },
                    }
                ],
            }
        )
    )
    result = simulator("conference_attendance").run(bad)
    assert not result.ok and result.error is None
    assert result.failures == [
        "outcome: expected 'Approved', got None",
        "open tasks: expected ['UserTask_senior_approval'], got ['UserTask_finance_review']",
        "data total_cost: expected 1, got 4310.0",
    ]
    bad.steps.append({"complete": "UserTask_senior_approval"})
    result = simulator("conference_attendance").run(bad)
    assert result.error == "step 2: no open task 'UserTask_senior_approval' (open: UserTask_finance_review)"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{", "not valid JSON"),
        ('{"scenarios": {}}', "a list 'scenarios'"),
        ('{"scenarios": [{"steps": []}]}', "needs a 'name'"),
        ('{"scenarios": [{"name": "x", "steps": [{"complete": "A", "wait": "P1D"}]}]}', "exactly one of"),
    ],
)
def test_malformed_scenario_files_are_refused_clearly(text, words):
    with pytest.raises(DefinitionError) as refused:
        parse_scenarios(text, "x.json")
    assert words in str(refused.value)


def test_a_draft_that_fails_the_check_is_not_simulated():
    broken = conference(**{"conference_attendance.bpmn": ('name="Supervisor"', 'name="???"')})
    with pytest.raises(DefinitionError) as refused:
        Simulator(broken, "conference_attendance", make_engine())
    assert any("lane '???' names no role" in f["message"] for f in refused.value.findings)


def test_simulating_touches_no_real_database(db, engine):
    simulator("security_screening").run(scenario("security_screening", "a cleared visitor"))
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_cli_runs_one_scenario_and_exits_1_on_failure(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["simulate", str(BPMN / "security_screening.bpmn"), "--scenario", "a cleared visitor"])
    assert ok.exit_code == 0, ok.output
    assert "PASS  a cleared visitor" in ok.output and "Screening recorded" in ok.output

    failing = tmp_path / "s.json"
    failing.write_text(
        json.dumps(
            {
                **json.loads((BPMN / "scenarios" / "security_screening.json").read_text()),
                "scenarios": [{"name": "wrong", "expect": {"status": "completed"}}],
            }
        )
    )
    bad = runner.invoke(
        main, ["simulate", str(BPMN / "security_screening.bpmn"), "--scenarios", str(failing), "--json"]
    )
    assert bad.exit_code == 1
    [result] = json.loads(bad.output)
    assert result["failures"] == ["status: expected 'completed', got 'running'"]

    unknown = runner.invoke(main, ["simulate", str(BPMN / "security_screening.bpmn"), "--scenario", "nope"])
    assert unknown.exit_code == 1 and "no scenario called 'nope'" in unknown.output
