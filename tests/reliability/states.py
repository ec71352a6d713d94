"""Stored workflow states of the real processes: what the serializer fixture holds and checks.

`python -m tests.reliability.states` rewrites tests/reliability/fixtures/stored_states.json.gz:
it walks every process of bpmn/ with the generic explorer on a scratch SQLite database and
keeps one stored state per distinct wait state, with the definition files it was made from.
Regenerate it only deliberately: the point of the file is that states stored by an older
Waypoint (or SpiffWorkflow) keep loading after upgrades.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.definitions import ParsedDefinition, build_parsed
from tests.conftest import make_engine

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "stored_states.json.gz"


def read_fixture() -> dict:
    return json.loads(gzip.decompress(FIXTURE.read_bytes()))


def summary(wf: Any) -> dict:
    """What a stored state must still say after loading: open work, waits, completion."""
    ready = sorted(t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True))
    waiting = sorted(
        t.task_spec.bpmn_id
        for t in wf.get_tasks(state=TaskState.WAITING)
        if getattr(t.task_spec, "event_definition", None) is not None and t.task_spec.bpmn_id
    )
    return {"ready": ready, "waiting": waiting, "completed": bool(wf.completed), "tasks": len(wf.get_tasks())}


def parsed_from_fixture(fixture: dict, key: str) -> ParsedDefinition:
    definition = fixture["definitions"][key]
    return build_parsed(key, definition["files"])


def generate(per_process: int = 10) -> dict:
    from sqlalchemy import select

    from engine import Database, ManualClock
    from engine.demo.people import seed_demo_users
    from engine.models import ProcessInstance
    from engine.serialization import SERIALIZER_VERSION, load
    from tests.reliability.explore import STRATEGIES, Explorer
    from tests.reliability.harness import ROOT

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/states.db")
        db.upgrade()
        clock = ManualClock()
        engine = make_engine(clock=clock)
        with db.transaction() as s:
            seed_demo_users(s, clock.now(), password=None)
            engine.deploy(s, [ROOT / "bpmn"])
        states: list[dict] = []
        seen: set = set()
        definitions: dict[str, dict] = {}

        def visit(iid: int, key: str, waits: tuple[str, ...]) -> None:
            shape = (
                key,
                tuple(w for w in waits if not w.startswith("timer")),
                sum(w.startswith("timer") for w in waits),
            )
            if shape in seen or sum(1 for e in states if e["process_key"] == key) >= per_process:
                return
            seen.add(shape)
            with db.reading() as s:
                row = s.get(ProcessInstance, iid)
                parsed = engine.definition_for(s, row)
                definitions.setdefault(key, {"content_hash": parsed.content_hash, "files": dict(parsed.files)})
                wf = load(row.state, parsed, engine.script_engine, engine.vault)
                states.append(
                    {
                        "process_key": key,
                        "serializer_version": row.serializer_version,
                        "state": row.state,
                        "expected": summary(wf),
                    }
                )

        explorer = Explorer(db, engine, clock, visit)
        for key, starter in explorer.startable():
            for strategy in STRATEGIES:
                explorer.walk(key, starter, strategy, max_steps=40)
        with db.reading() as s:
            assert all(v == SERIALIZER_VERSION for v in s.scalars(select(ProcessInstance.serializer_version)))
        db.dispose()
    return {"serializer_version": SERIALIZER_VERSION, "definitions": definitions, "states": states}


if __name__ == "__main__":
    data = generate()
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    FIXTURE.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"{len(data['states'])} states of {len(data['definitions'])} processes -> {FIXTURE}")
