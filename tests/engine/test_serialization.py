"""Stored workflow state: spec-free, round-trips exactly, records its serializer version."""

from __future__ import annotations

import json

from engine.models import ProcessInstance
from engine.serialization import SERIALIZER_VERSION, dump, load
from tests.conftest import FIXTURES


def test_state_round_trips_without_spec(db, engine, people):
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        instance = engine.start(s, "small_approval", {"title": "x", "amount": 3}, "jdoe")
    with db.reading() as s:
        row = s.get(ProcessInstance, instance.id)
        parsed = engine.definition_for(s, row)
        stored = json.loads(row.state)
        assert row.serializer_version == SERIALIZER_VERSION == stored["serializer_version"]
        assert "spec" not in stored and "subprocess_specs" not in stored
        again = dump(load(row.state, parsed, engine.script_engine))
        assert again == row.state
