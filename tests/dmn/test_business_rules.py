"""Business rule tasks run Waypoint's decision engine: a DMN 1.5 file with several decisions, a
requiredDecision chain, FEEL cells and COLLECT SUM, deployed and run through the engine on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.definitions import read_sources
from engine.errors import WaypointError
from engine.queries.tasks import instance_view
from tests.conftest import make_engine

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


@pytest.mark.parametrize(("zone", "day"), [("America/Toronto", "2026-02-28"), ("Asia/Tokyo", "2026-03-01")])
def test_feel_today_is_the_offices_date_by_the_engines_clock(people, clock, zone, day):
    engine = make_engine(clock=clock, office_tz=zone)
    with people.transaction() as s:
        engine.deploy(s, [LOAN], deployed_by="admin")
    clock.set(datetime(2026, 3, 1, 3, 0, tzinfo=UTC))  # 22:00 on 28 February in Toronto, noon in Tokyo
    view = run(people, engine, {"Loan Amount": 100, "country": "CA"})
    assert view["data"]["checked_on"] == day


def test_waypoint_check_reads_dmn_15_and_names_a_broken_cell(tmp_path):
    assert make_engine().check(read_sources([LOAN])) == []
    broken = tmp_path / "loan"
    broken.mkdir()
    for path in LOAN.iterdir():
        text = path.read_text().replace("<text>[0..10000]</text>", "<text>[0..10000</text>")
        (broken / path.name).write_text(text)
    [finding] = make_engine().check(read_sources([broken]))
    assert finding["file"] == "loan_rules.dmn" and finding["severity"] == "error"
    assert finding["message"].startswith("decision 'Risk', rule 1, column 'Loan Amount': FEEL: cannot read [0..10000")
