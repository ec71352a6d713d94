"""Reliability fixtures: the demo people plus per-worker people, with the test process deployed."""

from __future__ import annotations

import pytest

from engine import Database, Engine
from tests.reliability.harness import deploy_flow, seed_workers

MAX_WORKERS = 8


@pytest.fixture
def flow_db(people: Database, engine: Engine) -> Database:
    """`people` (both databases) with tests/reliability/fixtures/flow deployed and worker people."""
    deploy_flow(people, engine)
    seed_workers(people, engine, MAX_WORKERS)
    return people


@pytest.fixture
def web_app(flow_db: Database, engine: Engine, tmp_path):
    """The web app on `flow_db` (the reliability process deployed)."""
    from web import create_app

    return create_app(
        {"WAYPOINT_DB": flow_db, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "files")}
    )
