"""Audit log tamper evidence: the database refuses UPDATE and DELETE of audit events, and
`waypoint audit verify` reports every forgery an attacker who gets past that can make without
also rewriting the instance rows (see the note on `test_verify_reports_a_forgery`).

To simulate an attacker with file or superuser access, the tests switch the triggers off:
SQLite drops them, PostgreSQL disables them (`ALTER TABLE ... DISABLE TRIGGER`).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import exc, func, select, text

from cli import Context, main
from engine.audit import verify
from engine.models import AuditEvent, ProcessInstance
from tests.reliability.harness import drive_to_end, start_flow


@pytest.fixture
def trail(flow_db, engine):
    """Two finished instances (several events each) and one still running."""
    ids = start_flow(flow_db, engine, 3)
    drive_to_end(flow_db, engine)
    start_flow(flow_db, engine, 1)
    return flow_db, ids


def audit_verify(db) -> tuple[int, str]:
    """`waypoint audit verify` on `db` (in-process; tests/engine/test_cli.py runs it as a process)."""
    ctx = Context()
    ctx._db = db  # the command's own Database on the same URL would leak its pool here
    result = CliRunner().invoke(main, ["audit", "verify"], obj=ctx)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def raw(db, sql: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def disable_triggers(db) -> None:
    if db.is_sqlite:
        raw(db, "DROP TRIGGER audit_events_no_update")
        raw(db, "DROP TRIGGER audit_events_no_delete")
    else:
        raw(db, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")


def event_id(db, instance_id: int, action: str, nth: int = 0) -> int:
    with db.reading() as s:
        return list(
            s.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )
        )[nth]


REFUSED = (
    "UPDATE audit_events SET actor = 'mallory'",
    "UPDATE audit_events SET details = '{}' WHERE action = 'task_completed'",
    "UPDATE audit_events SET hash = prev_hash WHERE seq = 1",
    "DELETE FROM audit_events",
    "DELETE FROM audit_events WHERE action = 'ended'",
)


def test_database_refuses_update_and_delete(trail):
    db, _ = trail
    with db.reading() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    for statement in REFUSED:
        with pytest.raises(exc.DBAPIError) as info:
            raw(db, statement)
        assert "append-only" in str(info.value), statement
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert audit_verify(db)[0] == 0


def test_orm_cannot_edit_an_event_either(trail):
    db, [iid, *_] = trail
    with pytest.raises(exc.DBAPIError):
        with db.transaction() as s:
            event = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid)).first()
            event.actor = "mallory"
    assert audit_verify(db) == (0, "4 instance(s) checked, 0 break(s)\n")


def _edit_decision(db, iid):
    eid = event_id(db, iid, "task_completed")
    raw(db, "UPDATE audit_events SET details = :d WHERE id = :id", d=json.dumps({"decision": "approve"}), id=eid)
    return "content does not match its hash"


def _edit_and_rehash(db, iid):
    """A smarter attacker recomputes the edited event's own hash: the next link breaks."""
    from engine.audit import _event_hash

    eid = event_id(db, iid, "task_completed")
    with db.reading() as s:
        e = s.get(AuditEvent, eid)
        details = {**e.details, "comment": "forged"}
        digest = _event_hash(
            e.prev_hash, e.instance_id, e.seq, e.at, e.actor, e.action, e.task_id, e.element_id, e.element_name, details
        )
    raw(db, "UPDATE audit_events SET details = :d, hash = :h WHERE id = :id", d=json.dumps(details), h=digest, id=eid)
    return "previous-hash link broken"


def _change_actor(db, iid):
    raw(db, "UPDATE audit_events SET actor = 'dlee' WHERE id = :id", id=event_id(db, iid, "task_completed", 1))
    return "content does not match its hash"


def _delete_middle(db, iid):
    raw(db, "DELETE FROM audit_events WHERE id = :id", id=event_id(db, iid, "task_completed"))
    return "previous-hash link broken"


def _delete_last(db, iid):
    raw(db, "DELETE FROM audit_events WHERE id = :id", id=event_id(db, iid, "ended"))
    return "chain head on the instance does not match"


def _append_forged(db, iid):
    """Appending needs no trigger bypass at all: the instance's chain head gives it away."""
    with db.reading() as s:
        last = s.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == iid).order_by(AuditEvent.seq.desc())
        ).first()
        at = last.at
    from engine.audit import _event_hash

    seq = last.seq + 1
    digest = _event_hash(last.hash, iid, seq, at, "dlee", "task_completed", None, None, None, {"decision": "approve"})
    raw(
        db,
        "INSERT INTO audit_events (instance_id, seq, at, actor, action, details, prev_hash, hash) "
        "VALUES (:i, :seq, :at, 'dlee', 'task_completed', :d, :p, :h)",
        i=iid,
        seq=seq,
        at=at.replace(tzinfo=None),
        d=json.dumps({"decision": "approve"}),
        p=last.hash,
        h=digest,
    )
    return "chain head on the instance does not match"


def _swap_order(db, iid):
    first, second = event_id(db, iid, "task_completed", 0), event_id(db, iid, "task_completed", 1)
    with db.reading() as s:
        a, b = s.get(AuditEvent, first).seq, s.get(AuditEvent, second).seq
    raw(db, "UPDATE audit_events SET seq = -1 WHERE id = :id", id=first)
    raw(db, "UPDATE audit_events SET seq = :s WHERE id = :id", s=a, id=second)
    raw(db, "UPDATE audit_events SET seq = :s WHERE id = :id", s=b, id=first)
    return "content does not match its hash"


FORGERIES = {
    "edit-decision": _edit_decision,
    "edit-and-rehash": _edit_and_rehash,
    "change-actor": _change_actor,
    "delete-middle": _delete_middle,
    "delete-last": _delete_last,
    "append-forged": _append_forged,
    "swap-order": _swap_order,
}


def test_verify_reports_every_forgery(flow_db, engine):
    """Each forgery, on its own finished instance, is reported against that instance with the
    problem it causes; untouched instances are not; the command exits 1.

    Not covered (a limit of any hash chain kept in the same database): an attacker who rewrites
    a whole chain *and* the instance's chain head leaves a consistent trail; catching that needs
    the heads anchored outside the database (exported or signed)."""
    db = flow_db
    victims = start_flow(db, engine, len(FORGERIES) + 1)
    drive_to_end(db, engine)
    assert audit_verify(db) == (0, f"{len(victims)} instance(s) checked, 0 break(s)\n")
    plan = dict(zip(victims, FORGERIES, strict=False))  # the last instance stays untouched
    expected = {}
    for victim, name in plan.items():  # appending needs no trigger bypass: the chain head tells
        if name == "append-forged":
            expected[victim] = (name, FORGERIES[name](db, victim))
    disable_triggers(db)
    for victim, name in plan.items():
        if name != "append-forged":
            expected[victim] = (name, FORGERIES[name](db, victim))
    code, output = audit_verify(db)
    assert code == 1, output
    reported = {int(line.split()[0][1:]) for line in output.splitlines() if line.startswith("#")}
    assert reported == set(expected), output  # the untouched last instance is not reported
    for victim, (name, problem) in expected.items():
        lines = [line for line in output.splitlines() if line.startswith(f"#{victim} event ")]
        assert any(problem in line for line in lines), (name, lines)
    with db.reading() as s:
        assert verify(s, s.get(ProcessInstance, victims[-1])) == []


def test_truncating_the_trail_is_reported(trail):
    """TRUNCATE skips row triggers (PostgreSQL) and SQLite has no TRUNCATE: both are caught by the heads."""
    db, _ = trail
    if db.is_sqlite:
        disable_triggers(db)
        raw(db, "DELETE FROM audit_events")
    else:
        raw(db, "TRUNCATE audit_events")
    code, output = audit_verify(db)
    assert code == 1 and output.count("chain head on the instance does not match") == 4, output
