"""A completion reads only what it needs before it acts: the task comes with its request, the
request's definition and its requester in one statement; out-of-office delegations are read only
for a task someone other than the actor holds (on a queue task nobody stands in for anyone)."""

from __future__ import annotations

from tests.engine.test_short_write import completion, statements
from tests.reliability.harness import ready_tasks, started_request


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
