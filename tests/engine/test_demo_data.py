"""The demo-data generator: realistic requests in many states, all valid and auditable."""

from __future__ import annotations

from sqlalchemy import func, select

from engine import audit
from engine.demo.history import generate
from engine.models import ProcessInstance, TaskRecord
from tests.conftest import ROOT


def test_generates_requests_in_many_states(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    outcome = generate(db, engine, 60, now=engine.clock.now(), days=120, seed=7)
    assert sum(outcome.values()) == 60 and outcome["refused at start"] == 0
    with db.reading() as s:
        statuses = dict(s.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all())
        assert statuses.get("completed", 0) >= 5 and statuses.get("running", 0) >= 5
        outcomes = set(s.scalars(select(ProcessInstance.outcome).where(ProcessInstance.outcome.is_not(None))))
        assert len(outcomes) >= 3  # approvals and rejections at several levels
        steps = set(s.scalars(select(TaskRecord.name).where(TaskRecord.status == "ready")))
        assert len(steps) >= 5
        first = s.scalars(select(ProcessInstance).order_by(ProcessInstance.created_at)).first()
        assert (engine.clock.now() - first.created_at).days >= 100  # history spread over the period
        for instance in s.scalars(select(ProcessInstance)):
            assert audit.verify(s, instance) == []
