"""On PostgreSQL every statement is a network round trip, so an action's writes after its version
check go out pipelined (engine/db.py `pipelined`): the task rows, drafts, timers, subscriptions,
audit events and emails of a save cost one round trip together. Counted from the client's libpq
protocol trace (each answer ends with ReadyForQuery), not timed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from engine.db import pipelined
from engine.models import AuditEvent, ProcessInstance, Timer
from tests.engine.test_short_write import completion
from tests.reliability.harness import FLOW_KEY, deploy_flow, ready_tasks, started_request, waiting_for_go_ahead

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


@contextmanager
def protocol_trace(db) -> Iterator[list[str]]:
    """The libpq protocol messages of every transaction begun on `db` inside the block."""
    traced: list = []
    with tempfile.TemporaryFile("w+") as out:

        def trace(conn) -> None:
            # every statement parsed in the trace, to be found by its text (a prepared one is sent
            # by name in the same flight: the round trips are the same)
            conn.connection.driver_connection.prepare_threshold = None
            pgconn = conn.connection.driver_connection.pgconn
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
            traced.append(pgconn)

        messages: list[str] = []
        event.listen(db.engine, "begin", trace)
        try:
            yield messages
        finally:
            event.remove(db.engine, "begin", trace)
            for pgconn in traced:
                pgconn.untrace()
            out.seek(0)
            messages.extend(line.strip() for line in out)


def round_trips(messages: list[str]) -> int:
    return sum(1 for m in messages if m.startswith("B") and "ReadyForQuery" in m)


def after_version_check(messages: list[str]) -> list[str]:
    check = next(i for i, m in enumerate(messages) if m.startswith("F") and "UPDATE process_instances SET" in m)
    return messages[check:]


def traced(db, action: Callable) -> list[str]:
    with protocol_trace(db) as messages, db.transaction() as s:
        action(s)
    return messages


def test_a_save_writes_in_one_round_trip_after_its_version_check(people, engine):
    """The message that offers the final sign-off: the version check, then one pipelined batch (the
    state row, the consumed subscription, the new task row, its timer, the audit event and the
    supervisors' emails), then COMMIT."""
    iid, _ = waiting_for_go_ahead(people, engine)
    messages = traced(people, lambda s: engine.deliver_message(s, "go_ahead", {}, correlation={"instance": iid}))
    written = after_version_check(messages)
    sent = [m for m in written if m.startswith("F") and ("INSERT" in m or "UPDATE" in m or "DELETE" in m)]
    assert len(sent) >= 6  # subscription, task, timer, audit, outbox, state row (and the check)
    assert round_trips(written) == 3, "\n".join(written)  # version check, the batch, COMMIT


def test_a_completion_costs_few_round_trips(people, engine):
    iid, staff = started_request(people, engine)
    task_id, _, role, _ = ready_tasks(people, [iid])[0]
    messages = traced(people, completion(engine, task_id, staff[role][0]))
    assert round_trips(after_version_check(messages)) == 3, "\n".join(messages)
    # BEGIN; the task with its request, requester, open task rows and the actor; then the three
    assert round_trips(messages) == 5, "\n".join(messages)


def test_an_error_in_a_pipelined_write_rolls_the_transaction_back(people, engine):
    """A statement that fails inside the batch fails the block (at the latest at its end), the
    transaction rolls back whole, and the connection serves the next transaction."""
    deploy_flow(people, engine)
    with people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    with pytest.raises(IntegrityError), people.transaction() as s:
        with pipelined(s):
            s.execute(insert(AuditEvent.table()).inline(), [{"instance_id": iid, "seq": 999, **_event()}])
            s.execute(insert(Timer.table()).inline(), [{"instance_id": 10**9, "kind": "bpmn_timer", **_due()}])
    with people.reading() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.seq == 999)) == 0
        assert s.get(ProcessInstance, iid).status == "running"


def _event() -> dict:
    return dict(at=datetime.now(UTC), actor="x", action="probe", details=None, prev_hash="0", hash="1")


def _due() -> dict:
    return dict(task_id=None, due_at=datetime.now(UTC), attempts=0)
