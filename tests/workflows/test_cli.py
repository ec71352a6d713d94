"""From the command line, a person drives each process to an end state (`python -m cli`).

One smoke walk per process, each command a separate process as a person would type it: the
branches themselves are covered through the engine API in the other modules. The walks share one
SQLite database with the demo people, where bpmn/ is deployed once from the CLI (SQLite only:
the engine API tests cover PostgreSQL, and each command costs a Python start-up). The CLI runs
on the wall clock, so the walks that wait for a trip or a visit to end use dates in the past: such
a timer fires as soon as it is set, and the step after it is open at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine import Database
from engine.demo.people import seed_demo_users
from tests.workflows.test_conference_attendance import REGISTER_NO_DOCUMENTS, TRIP_REPORT, conference_request
from tests.workflows.test_delegation_visit import HOST_APPROVES, PROTOCOL, visit_request
from tests.workflows.test_passport_visa import documents_request
from tests.workflows.test_security_screening import screening_request
from tests.workflows.walk import BPMN

KEYS = ("conference_attendance", "delegation_visit", "passport_visa", "security_screening")


class Cli:
    """`waypoint ...` against one database."""

    def __init__(self, url: str):
        self.env = {**os.environ, "WAYPOINT_DATABASE_URL": url}

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


class Request:
    """One request driven from the CLI: the open tasks come back with each completion."""

    def __init__(self, cli: Cli, key: str, user: str, data: dict, *office: str):
        self.cli = cli
        self.id = cli.json("start", key, "--as", user, "--data", json.dumps(data), *office)["instance_id"]
        self.refresh()

    def refresh(self) -> None:
        self.open = self.cli.json("tasks", "--instance", str(self.id))

    def do(self, element: str, user: str, data: dict) -> dict:
        [task] = [t for t in self.open if t["element_id"] == element]
        result = self.cli.json("complete", task["id"][:8], "--as", user, "--data", json.dumps(data))
        self.open = result["next_tasks"]
        return result


@pytest.fixture(scope="module")
def cli(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    path = tmp_path_factory.mktemp("cli") / "waypoint.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.transaction() as s:  # the demo people, without passwords (no scrypt cost)
        seed_demo_users(s, datetime.now(UTC), password=None)
    database.dispose()
    cli = Cli(database.url)
    deployed = [line.split() for line in cli("deploy", str(BPMN), "--as", "admin").splitlines()]
    assert sorted(deployed) == [[key, "version", "1", "deployed"] for key in sorted(KEYS)]
    return cli


def test_conference_request_from_submission_to_trip_report(cli):
    past = conference_request(start_date="2025-06-02", end_date="2025-06-05")  # filed by the office, afterwards
    r = Request(cli, "conference_attendance", "cgagnon", past, "--for", "jdoe", "--past-dates", "Filed after the trip")
    assert [t["assignee"] for t in r.open] == ["msmith"]
    r.do("UserTask_supervisor_review", "msmith", {"supervisor_decision": "approve"})
    r.do("UserTask_finance_review", "fchan", {"finance_decision": "confirm", "cost_centre": "CC-4410"})
    r.do("UserTask_register_trip", "cgagnon", REGISTER_NO_DOCUMENTS)
    assert [t["element_id"] for t in r.open] == ["UserTask_trip_report"]  # the trip is already over
    done = r.do("UserTask_trip_report", "jdoe", TRIP_REPORT)
    assert (done["status"], done["outcome"]) == ("completed", "Approved, trip report filed")


def test_passport_renewed_on_a_message_then_signed_out_and_returned(cli):
    trip = documents_request(current_passport={"held": False}, trip_start_date="2025-06-02", trip_end_date="2025-06-05")
    r = Request(cli, "passport_visa", "cgagnon", trip, "--for", "jdoe", "--past-dates", "Recorded after the trip")
    r.do("UserTask_prepare_passport_application", "ppatel", {"application_ref": "PPT-CLI-1", "application_type": "new"})
    r.do("UserTask_supply_passport_documents", "jdoe", {"photos_supplied": True, "application_form_signed": True})
    r.do(
        "UserTask_submit_passport_application",
        "ppatel",
        {"passport_submitted_on": "2025-05-12", "submission_channel": "courier"},
    )
    payload = {"application_ref": "PPT-CLI-1", "passport_number": "DP123456", "expiry_date": "2032-05-01"}
    assert f"delivered to #{r.id}" in cli("message", "passport_issued", "--data", json.dumps(payload))
    r.refresh()
    r.do(
        "UserTask_sign_out_passport", "ppatel", {"passport_signed_out_on": "2025-05-30", "traveller_acknowledged": True}
    )
    done = r.do(
        "UserTask_record_passport_return",
        "ppatel",
        {"passport_returned_on": "2025-06-06", "passport_condition": "good"},
    )
    assert (done["status"], done["outcome"]) == ("completed", "Documents issued, passport returned")


def test_delegation_visit_from_screening_to_post_visit_report(cli):
    member = visit_request()["members"][0]
    past = visit_request(members=[member], start_date="2025-06-02", end_date="2025-06-04")
    r = Request(cli, "delegation_visit", "cgagnon", past, "--for", "lokafor", "--past-dates", "Recorded afterwards")
    r.do("UserTask_screen_member", "sroy", {"screening_result": "cleared"})
    r.do("UserTask_host_unit_approval", "htremblay", HOST_APPROVES)
    r.do("UserTask_itv_approval", "cgagnon", {"itv_decision": "approve"})
    r.do("UserTask_arrange_protocol", "cgagnon", PROTOCOL)  # the visit is already over
    done = r.do("UserTask_post_visit_report", "htremblay", {"visit_summary": "Productive", "incidents": False})
    assert (done["status"], done["outcome"]) == ("completed", "Visit completed, report filed")


def test_security_screening_on_its_own(cli):
    r = Request(cli, "security_screening", "lokafor", screening_request())
    done = r.do(
        "UserTask_screen_member", "sroy", {"screening_result": "not_cleared", "screening_comment": "Adverse record"}
    )
    assert (done["status"], done["outcome"]) == ("completed", "Screening recorded")
