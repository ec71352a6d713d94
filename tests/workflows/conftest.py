"""Fixtures for the process tests: the demo org chart with bpmn/ deployed, and a Walker per request.

Every test gets a fresh database (both SQLite and PostgreSQL, from tests/conftest.py) and deploys
bpmn/ through `Engine.deploy`. Two things that depend only on the files are shared across the
session to keep the suite fast: the result of `Engine.check` (the content check, asserted on
its own in test_rules.py) and the parsed specs (the engine's `SpecCache`, keyed by content hash).
A test that needs an engine with nothing cached uses `Walker.restart()`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine import Database, Engine, ManualClock
from engine.definitions import SourceSet, SpecCache, content_hash
from tests.conftest import engine_options
from tests.workflows.walk import Walker, deploy

_CHECKED: dict[str, list[dict]] = {}
_SPECS = SpecCache()


class SessionCachedEngine(Engine):
    """The engine, with the content check and the parsed specs shared by the whole test session."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.specs = _SPECS

    def check(self, sources: SourceSet) -> list[dict]:
        key = content_hash(sources.files) + "|" + ",".join(sources.requested)
        if key not in _CHECKED:
            _CHECKED[key] = super().check(sources)
        return list(_CHECKED[key])


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return SessionCachedEngine(**engine_options(clock=clock))


@pytest.fixture
def deployed(people: Database, engine: Engine) -> Database:
    """`people` (both databases) with every process in bpmn/ deployed once."""
    deploy(people, engine)
    return people


@pytest.fixture
def walker(deployed: Database, engine: Engine, clock: ManualClock) -> Callable[[str], Walker]:
    """Make a Walker for a new request of a process key."""
    return lambda key: Walker(deployed, engine, clock, key)
