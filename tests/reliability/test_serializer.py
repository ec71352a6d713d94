"""Serializer round trip: at every wait state of every real process, serialize → deserialize →
serialize gives the same document (with the running engine's spec cache and with a fresh one,
as after a restart) and the same workflow; stored states from a committed fixture keep loading;
instances record the serializer version. tests/engine/test_serialization.py checks one state
of the small process.

"The same document": equal JSON, and byte-identical from the second serialization on. The very
first round trip of a state can reorder keys inside a task's data delta (a multi-instance child
whose data the library built in another key order than a restored one has): same content, other
text. `test_first_round_trip_is_byte_identical` keeps that known difference visible.
"""

from __future__ import annotations

import json
import re

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.models import ProcessInstance
from engine.serialization import SERIALIZER_VERSION, dump, load
from tests.conftest import make_engine
from tests.reliability.explore import STRATEGIES, Explorer
from tests.reliability.harness import ROOT, check_consistency
from tests.reliability.states import FIXTURE, parsed_from_fixture, read_fixture, summary

WAITABLE = re.compile(r'<bpmn:(?:userTask|receiveTask|manualTask) id="([^"]+)"')


def tree(wf) -> list[tuple]:
    """Every task of a workflow (and its subprocesses) with its state and data: equality of
    two of these means two workflows are the same, not merely serialized alike."""
    return sorted(
        (str(t.id), t.task_spec.name, TaskState.get_name(t.state), json.dumps(t.data, sort_keys=True, default=str))
        for t in wf.get_tasks()
    )


def round_trips(db, engine, clock) -> None:
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    restarted = make_engine(clock=clock)  # its own spec cache: parses the stored definition files again
    seen: set[str] = set()
    visits = {"states": 0}

    shapes: set[tuple] = set()

    def visit(iid: int, key: str, waits: tuple[str, ...]) -> None:
        shape = (key, tuple(w for w in waits if not w.startswith("timer@")), sum(w.startswith("timer@") for w in waits))
        if shape in shapes:  # each distinct wait state of each process once
            return
        shapes.add(shape)
        with db.reading() as s:
            row = s.get(ProcessInstance, iid)
            assert row.serializer_version == SERIALIZER_VERSION
            assert json.loads(row.state)["serializer_version"] == SERIALIZER_VERSION
            personal = engine.definition_for(s, row).personal  # encrypted at rest, deterministically
            first = load(row.state, engine.definition_for(s, row), engine.script_engine, engine.vault)
            text = dump(first, personal, engine.vault)
            assert json.loads(text) == json.loads(row.state), (key, waits)
            second = load(row.state, restarted.definition_for(s, row), restarted.script_engine, restarted.vault)
            assert dump(second, personal, restarted.vault) == text, (key, waits)
            assert tree(first) == tree(second)
            third = load(text, restarted.definition_for(s, row), restarted.script_engine, restarted.vault)
            assert dump(third, personal, restarted.vault) == text, (key, waits)  # byte-identical from here on
            assert tree(third) == tree(first)
        visits["states"] += 1
        seen.update(w for w in waits if not w.startswith("timer@"))

    explorer = Explorer(db, engine, clock, visit)
    startable = explorer.startable()
    assert {key for key, _ in startable} >= {"conference_attendance", "delegation_visit", "passport_visa"}
    for key, starter in startable:
        for strategy in STRATEGIES:
            explorer.walk(key, starter, strategy, max_steps=40)
    waitable = {w for f in (ROOT / "bpmn").glob("*.bpmn") for w in WAITABLE.findall(f.read_text())}
    reached = len(seen & waitable) / len(waitable)
    print(f"\nserializer: {visits['states']} wait states checked, {reached:.0%} of the waiting elements reached")
    assert reached >= 0.7, sorted(waitable - seen)
    check_consistency(db, engine)


def test_round_trip_at_every_wait_state_of_every_process(sqlite_db, engine, clock):
    """The state text is the same whichever database stored it: the default run uses SQLite."""
    from engine.demo.people import seed_demo_users

    with sqlite_db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
    round_trips(sqlite_db, engine, clock)


@pytest.mark.stress
def test_stress_round_trip_on_both_databases(people, engine, clock):
    round_trips(people, engine, clock)


def test_stored_fixture_keeps_loading():
    """States stored by this serializer version load and say what they said when stored."""
    fixture = read_fixture()
    assert fixture["states"], f"{FIXTURE} is empty"
    engine = make_engine()
    parsed = {key: parsed_from_fixture(fixture, key) for key in fixture["definitions"]}
    for key, definition in fixture["definitions"].items():
        assert parsed[key].content_hash == definition["content_hash"], key
    for n, entry in enumerate(fixture["states"]):
        assert entry["serializer_version"] == json.loads(entry["state"])["serializer_version"]
        wf = load(entry["state"], parsed[entry["process_key"]], engine.script_engine)
        assert summary(wf) == entry["expected"], (n, entry["process_key"])
        again = dump(wf)
        if entry["serializer_version"] == SERIALIZER_VERSION:
            assert json.loads(again) == json.loads(entry["state"]), (n, entry["process_key"])
        # written by an older version or not: stable from the first re-serialization on
        assert dump(load(again, parsed[entry["process_key"]], engine.script_engine)) == again


def test_fixture_workflows_still_run(engine):
    """A loaded state is live: the next step runs (first open task, with the data it already has)."""
    fixture = read_fixture()
    parsed = {key: parsed_from_fixture(fixture, key) for key in fixture["definitions"]}
    ran = 0
    for entry in fixture["states"]:
        wf = load(entry["state"], parsed[entry["process_key"]], engine.script_engine)
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            continue
        try:
            ready[0].run()
            wf.do_engine_steps()
        except Exception:  # the form data a person would add is missing: a script may refuse
            continue
        assert ready[0].state == TaskState.COMPLETED
        ran += 1
    assert ran >= len(fixture["definitions"])


@pytest.mark.xfail(
    strict=True,
    reason="the first round trip of a multi-instance child's state reorders keys of its data delta "
    "(equal JSON, other bytes); engine/serialization.dump would need sort_keys, which would also "
    "change the order in which request pages list data fields",
)
def test_first_round_trip_is_byte_identical():
    fixture = read_fixture()
    engine = make_engine()
    parsed = {key: parsed_from_fixture(fixture, key) for key in fixture["definitions"]}
    differ = [
        n
        for n, entry in enumerate(fixture["states"])
        if dump(load(entry["state"], parsed[entry["process_key"]], engine.script_engine)) != entry["state"]
    ]
    assert differ == []


@pytest.mark.parametrize("field", ["serializer_version"])
def test_instances_record_the_serializer_version(flow_db, engine, field):
    from tests.reliability.harness import start_flow

    [iid] = start_flow(flow_db, engine, 1)
    with flow_db.reading() as s:
        row = s.get(ProcessInstance, iid)
        assert getattr(row, field) == SERIALIZER_VERSION == json.loads(row.state)[field]
        assert "spec" not in json.loads(row.state)
