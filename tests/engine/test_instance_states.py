"""The workflow state lives in `instance_states` (migration 0017), compressed, read and written
through `ProcessInstance.state`: listings never touch it, a save writes it after its version check,
and a database at the previous head with requests in it upgrades (and downgrades) with their states."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm.attributes import set_committed_value

from engine import ConcurrentUpdate, Database, Engine, ManualClock
from engine.demo.people import seed_demo_users
from engine.locking import lock_instance
from engine.models import InstanceState, ProcessInstance, TaskRecord
from engine.models.states import decompress
from tests.conftest import PG_ADMIN_URL, ROOT, make_engine
from tests.engine.test_short_write import WRITES, completion, statements
from tests.reliability.harness import FLOW_KEY, deploy_flow, ready_tasks, seed_workers, started_request, worker_users

PREVIOUS = "0016_open_task_counts"


@pytest.fixture(params=["sqlite", "postgresql"])
def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of this test's own (it is taken down to the previous head and back)."""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "waypoint.db")
        database = Database(f"sqlite:///{tmp_path / 'waypoint.db'}")
        yield database
        database.dispose()
        return
    request.getfixturevalue("postgres_url")  # skips without a server
    schema, admin = f"wp_states_{uuid.uuid4().hex[:10]}", create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    database.upgrade()
    yield database
    database.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def started(db: Database, clock: ManualClock) -> tuple[Engine, int]:
    engine = make_engine(clock=clock)
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
    deploy_flow(db, engine)
    seed_workers(db, engine, 1)
    with db.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Voyage à Genève", "amount": 5}, "jdoe").id
    return engine, iid


def test_the_state_is_stored_compressed_in_its_own_table(people, engine):
    deploy_flow(people, engine)
    with people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    with people.engine.connect() as conn:
        assert "state" not in {c["name"] for c in inspect(conn).get_columns("process_instances")}
        [(stored,)] = conn.execute(text("SELECT state FROM instance_states WHERE instance_id = :i"), {"i": iid})
    with people.reading() as s:
        instance = s.get_one(ProcessInstance, iid)
        assert json.loads(decompress(stored)) == json.loads(instance.state)
        assert len(stored) * 3 < len(instance.state.encode())


def test_a_completion_reads_the_state_with_its_task(people, engine):
    """The action's first statement (task, request, definition) brings the stored state too: no
    read of instance_states apart."""
    deploy_flow(people, engine)
    seed_workers(people, engine, 1)
    with people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    task_id, _, role, _ = ready_tasks(people, [iid])[0]
    with statements(people) as seen, people.transaction() as s:
        completion(engine, task_id, worker_users(0)[role][0])(s)
    first = next(statement for statement in seen if statement.startswith("SELECT tasks"))
    assert "JOIN instance_states" in first
    assert [r for r in seen if r.startswith("SELECT") and r.split(" FROM ")[1].startswith("instance_states")] == []


def test_a_loser_writes_no_state(people, engine):
    """A save whose version check fails (another save won meanwhile) writes nothing, not even its
    state: the state row is written after the check, by the flush that follows it."""
    deploy_flow(people, engine)
    with people.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    with people.reading() as s:
        kept = s.scalar(select(InstanceState.state).where(InstanceState.instance_id == iid))
    with statements(people) as seen, pytest.raises(ConcurrentUpdate), people.transaction() as s:
        instance = s.get_one(ProcessInstance, iid)
        set_committed_value(instance, "version", instance.version - 1)  # as read before another save
        instance.state = json.dumps({"lost": True})
        lock_instance(s, instance)
        s.flush()
    assert not [w for w in seen if w.startswith(WRITES) and "instance_states" in w]
    with people.reading() as s:
        assert s.scalar(select(InstanceState.state).where(InstanceState.instance_id == iid)) == kept


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite serializes writers: no such interleaving
def test_the_loser_of_a_real_race_writes_nothing_but_its_failed_check(people, engine):
    """Two completions of one request read the same version; the later one fails at its version
    check, the first write of its save, and sends nothing after it: no state row, task row, audit
    event or email of the loser reaches the database, pipelined or not."""
    iid, staff = started_request(people, engine)
    (first, _, first_role, _), (second, _, second_role, _) = ready_tasks(people, [iid])
    with people.reading() as s:
        kept = s.scalar(select(InstanceState.state).where(InstanceState.instance_id == iid))
    with people.transaction() as late:
        stale = late.get(ProcessInstance, iid), late.get(TaskRecord, second)  # read before the winner commits
        held = stale[0].version
        with people.transaction() as early:
            engine.complete(early, first, staff[first_role][0], {"decision": "approve"})
        with statements(people) as seen, pytest.raises(ConcurrentUpdate):
            engine.complete(late, second, staff[second_role][0], {"decision": "approve"})
        assert stale[0].version == held  # the late transaction really acted on the old version
        late.rollback()
    written = [w for w in seen if w.startswith(WRITES)]
    assert len(written) == 1 and written[0].startswith("UPDATE process_instances SET"), written
    with people.reading() as s:
        assert s.scalar(select(InstanceState.state).where(InstanceState.instance_id == iid)) != kept  # the winner's
        assert s.get_one(TaskRecord, second).status == "ready"


def test_a_database_at_the_previous_head_upgrades_with_its_states(own_db, clock):
    """Down to 0016 (the states go back into the instance rows, as they were), then `waypoint db
    upgrade` (the CLI on SQLite): the states move over unchanged and the request goes on."""
    engine, iid = started(own_db, clock)
    with own_db.reading() as s:
        before = s.get_one(ProcessInstance, iid).state
    command.downgrade(own_db.alembic_config(), PREVIOUS)
    with own_db.engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM process_instances WHERE id = :i"), {"i": iid}).scalar() == before
        assert not inspect(conn).has_table("instance_states")
    if own_db.is_sqlite:
        env = {**os.environ, "WAYPOINT_DATABASE_URL": own_db.url}
        cli = [sys.executable, "-m", "cli", "db", "upgrade"]
        upgraded = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT, check=True)
        assert f"database upgraded from {PREVIOUS}" in upgraded.stdout
    else:
        assert own_db.upgrade()[0] == PREVIOUS
    with own_db.reading() as s:
        assert s.get_one(ProcessInstance, iid).state == before
    staff = worker_users(0)
    for task_id, _, role, _ in ready_tasks(own_db, [iid]):
        with own_db.transaction() as s:
            engine.complete(s, task_id, staff[role][0], {"decision": "approve"})
    with own_db.reading() as s:
        assert s.get_one(ProcessInstance, iid).state != before
