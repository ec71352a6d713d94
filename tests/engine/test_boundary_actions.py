"""A person raises a BPMN error or escalation from a user task (engine, API, CLI), and an escalation event
sub-process starts only on its escalation; saved and restored at every wait, on both databases."""

from __future__ import annotations

import json

import pytest

from engine import InvalidState
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES
from tests.engine.test_cli import run

BOUNDARY = FIXTURES / "boundary"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [BOUNDARY], deployed_by="admin")
    return people


def start(db, engine):
    with db.transaction() as s:
        return engine.start(s, "boundary_actions", {}, "jdoe").id


def open_steps(db, iid):
    with db.reading() as s:
        return {t.element_id: t.id for t in list_tasks(s, instance_id=iid) if t.status == "ready"}


def test_the_task_offers_its_boundary_errors_and_escalations(deployed, engine):
    iid = start(deployed, engine)
    steps = open_steps(deployed, iid)
    assert list(steps) == ["Task_review"]  # the escalation event sub-process waits for its escalation
    with deployed.reading() as s:
        row = list_tasks(s, instance_id=iid)[0]
        actions = [(a.kind, a.code, a.element_id, a.name) for a in engine.task_boundary_actions(s, row)]
    assert actions == [
        ("error", "NO_BUDGET", "Boundary_budget", "No budget"),
        ("escalation", "NEEDS_HELP", "Boundary_help", "Ask for help"),
    ]


def test_error_ends_the_task_through_its_boundary_event(deployed, engine):
    iid = start(deployed, engine)
    task_id = open_steps(deployed, iid)["Task_review"]
    with deployed.transaction() as s, pytest.raises(InvalidState):
        engine.raise_boundary_event(s, task_id, "msmith", "error", "NOT_DECLARED")
    with deployed.transaction() as s:
        engine.raise_boundary_event(s, task_id, "msmith", "error", "NO_BUDGET", {"reason": "spent"})
    with deployed.reading() as s:
        view = instance_view(s, iid)
    assert (view["status"], view["outcome"]) == ("completed", "No budget")
    assert "error_raised" in [e["action"] for e in view["audit"]]


def test_escalation_keeps_the_task_and_starts_the_escalation_sub_process(deployed, engine):
    iid = start(deployed, engine)
    review = open_steps(deployed, iid)["Task_review"]
    with deployed.transaction() as s:
        engine.raise_boundary_event(s, review, "msmith", "escalation", "NEEDS_HELP")
    steps = open_steps(deployed, iid)
    assert sorted(steps) == ["Task_after_help", "Task_review"]  # non-interrupting: the review stays open
    with deployed.transaction() as s:
        engine.complete(s, steps["Task_after_help"], "msmith", {})  # throws the AUDIT escalation
    steps = open_steps(deployed, iid)
    assert sorted(steps) == ["Task_audit", "Task_review"]
    for element in ("Task_audit", "Task_review"):
        with deployed.transaction() as s:
            engine.complete(s, steps[element], "msmith", {})
    with deployed.reading() as s:
        assert instance_view(s, iid)["status"] == "completed"


def test_raise_from_the_command_line(db):
    url = db.url
    run(url, "seed-demo")
    run(url, "deploy", str(BOUNDARY))
    instance = run(url, "start", "boundary_actions", "--as", "jdoe").stdout.strip()
    [task] = json.loads(run(url, "tasks", "--user", "msmith", "--json").stdout)
    usage = run(url, "raise", task["id"][:8], "--as", "msmith", expect=2)
    assert "exactly one of --error CODE and --escalation CODE" in usage.stderr
    done = run(url, "raise", task["id"][:8], "--as", "msmith", "--error", "NO_BUDGET")
    assert done.stdout.strip() == f"error 'NO_BUDGET' raised from 'Review' on #{instance}; request is completed"
