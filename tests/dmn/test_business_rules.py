"""Business rule tasks run Waypoint's decision engine: a DMN 1.5 file with several decisions, a
requiredDecision chain, FEEL cells and COLLECT SUM, deployed and run through the engine on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import WaypointError
from engine.queries.tasks import instance_view

LOAN = Path(__file__).parent / "fixtures" / "loan"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [LOAN], deployed_by="admin")
    return people


def run(db, engine, data):
    with db.transaction() as s:
        iid = engine.start(s, "loan_check", data, "jdoe").id
    with db.reading() as s:
        return instance_view(s, iid)


@pytest.mark.parametrize(
    ("amount", "country", "approval", "fees"),
    [
        (5000, "CA", "approve", 100),
        (20000, "CA", "refer to director", 250),
        (100, "RU", "refer to director", 50),
    ],
)
def test_the_second_decision_of_a_file_runs_after_the_one_it_requires(
    deployed, engine, amount, country, approval, fees
):
    view = run(deployed, engine, {"Loan Amount": amount, "country": country})
    assert view["status"] == "completed"
    assert view["data"]["Approval"] == approval
    assert view["data"]["fee"] == fees


def test_a_hit_policy_violation_names_file_decision_and_rules(deployed, engine):
    with pytest.raises(WaypointError) as caught:
        run(deployed, engine, {"Loan Amount": 20000, "country": "RU"})
    message = str(caught.value)
    assert "loan_rules.dmn" in message and "'Risk'" in message and "rules 2, 3" in message and "UNIQUE" in message
