"""No tracebacks at run time: SpiffWorkflow's own failures become `error: ...` naming the step, and
nothing changes (the caller's transaction rolls back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import ScriptError, WaypointError
from engine.models import ProcessInstance, TaskRecord
from tests.conftest import FIXTURES

MI = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="mi" name="Many reviews" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Supervisor"><bpmn:flowNodeRef>review</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" name="Go"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>
        <bpmn:inputDataItem id="reviewer" name="reviewer"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end" name="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""


def count(db) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance)) or 0


def test_start_without_the_multi_instance_collection_names_the_step(people, engine, tmp_path: Path):
    (tmp_path / "mi.bpmn").write_text(MI)
    with people.transaction() as s:
        engine.deploy(s, [tmp_path / "mi.bpmn"])
    with pytest.raises(ScriptError) as failed:
        with people.transaction() as s:
            engine.start(s, "mi", {}, "jdoe")
    assert "step 'review'" in str(failed.value) and "'reviewers'" in str(failed.value)
    assert count(people) == 0
    with people.transaction() as s:
        engine.start(s, "mi", {"reviewers": ["msmith", "dlee"]}, "jdoe")
    assert count(people) == 1


def test_a_message_without_its_correlation_field_is_an_error_and_changes_nothing(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        instance = engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, "jdoe")
        iid = instance.id
    with people.transaction() as s:
        [task] = [t for t in s.scalars(select(TaskRecord).where(TaskRecord.instance_id == iid))]
        engine.complete(s, task.id, "msmith", {"decision": "approve"})
    with people.reading() as s:
        version = s.get(ProcessInstance, iid).version
    with pytest.raises(WaypointError) as failed:
        with people.transaction() as s:
            engine.deliver_message(s, "payment_confirmed", {"paid": 1130})
    assert "Traceback" not in str(failed.value)
    assert "payment_confirmed" in str(failed.value)
    with people.reading() as s:
        assert s.get(ProcessInstance, iid).version == version
