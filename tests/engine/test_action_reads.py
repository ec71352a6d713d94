"""A completion reads only what it needs before it acts: the task comes with its request, the
request's definition and its requester in one statement; out-of-office delegations are read only
for a task someone other than the actor holds (on a queue task nobody stands in for anyone)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import PermissionDenied
from engine.models import TaskRecord
from tests.engine.test_short_write import completion, statements
from tests.reliability.harness import (
    FLOW_KEY,
    check_consistency,
    deploy_flow,
    ready_tasks,
    seed_workers,
    started_request,
)


def reads_of(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and f" FROM {table} " in f"{s} "]


def test_a_queue_task_completion_reads_no_delegations_and_no_requester_apart(people, engine):
    iid, staff = started_request(people, engine)
    task_id, _, role, _ = ready_tasks(people, [iid])[0]
    with statements(people) as seen, people.transaction() as s:
        completion(engine, task_id, staff[role][0])(s)
    assert reads_of(seen, "delegations") == []
    first = seen[0] if seen[0].startswith("SELECT tasks") else seen[1]
    assert "JOIN users" in first  # the requester, with the task
    by_id = [s for s in reads_of(seen, "users") if s.endswith("WHERE users.id = ?") or "users.id = %(pk_1)" in s]
    assert by_id == []


def test_actions_on_one_request_in_one_transaction_each_see_the_open_rows_of_the_one_before(people, engine):
    """The open task rows come with the task an action reads; several actions on one request in one
    transaction (a refused one among them, then a claim, then both completions and the message
    that offers the last step) each compare the workflow with the rows the action before left."""
    iid, staff = started_request(people, engine)
    (first, _, first_role, _), (second, _, second_role, _) = ready_tasks(people, [iid])
    with people.transaction() as s:
        with pytest.raises(PermissionDenied):
            engine.complete(s, first, "jdoe", {"decision": "approve"})  # the requester: refused, after its read
        engine.claim(s, second, staff[second_role][0])
        completion(engine, first, staff[first_role][0])(s)
        completion(engine, second, staff[second_role][0])(s)
        engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid})
        [(last, _, last_role, _)] = [t for t in ready_tasks_in(s, iid)]
        completion(engine, last, staff[last_role][0])(s)
    assert ready_tasks(people, [iid]) == []
    assert check_consistency(people, engine).by_status == {"completed": 1}
    with people.reading() as s:
        rows = s.execute(select(TaskRecord.id, TaskRecord.status).where(TaskRecord.instance_id == iid)).all()
    assert sorted(status for _, status in rows) == ["completed"] * 3 and len({i for i, _ in rows}) == 3


def test_a_start_reads_no_task_rows_of_its_new_request(people, engine):
    """A request not stored yet has no task rows: its save compares the workflow with none, unread."""
    deploy_flow(people, engine)
    seed_workers(people, engine, 1)
    with statements(people) as seen, people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    assert reads_of(seen, "tasks") == []
    assert len(ready_tasks(people, [iid])) == 2  # its two parallel checks, written


def ready_tasks_in(s, iid: int) -> list[tuple]:
    query = select(TaskRecord.id, TaskRecord.instance_id, TaskRecord.role, TaskRecord.status)
    return [tuple(r) for r in s.execute(query.where(TaskRecord.instance_id == iid, TaskRecord.status == "ready"))]
