"""Standard BPMN that SpiffWorkflow refuses runs through Waypoint's parser layer (engine/parsing/standard.py):
data stores ignored, an implicit parallel split from a task, an unconditioned inclusive flow always taken and a
sub-process without a start event; the instance is saved and restored at its wait, on both databases."""

from __future__ import annotations

from copy import deepcopy

import pytest
from lxml import etree

from engine.parsing.standard import rewrite
from engine.queries.tasks import instance_view
from tests.conftest import FIXTURES

STANDARD = FIXTURES / "standard"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        assert engine.check(engine_sources()) == []
        engine.deploy(s, [STANDARD], deployed_by="admin")
    return people


def engine_sources():  # type: ignore[no-untyped-def]
    from engine.definitions import read_sources

    return read_sources([STANDARD])


def test_standard_constructs_run_to_the_end(deployed, engine):
    with deployed.transaction() as s:
        iid = engine.start(s, "standard_constructs", {}, "jdoe").id
    with deployed.reading() as s:
        view = instance_view(s, iid)
    assert view["status"] == "running"
    assert view["data"]["c"] == 1  # the other branch of the implicit split ran while this one waits
    with deployed.transaction() as s:
        engine.deliver_message(s, "std_go", {}, {"instance": iid})
    with deployed.reading() as s:
        view = instance_view(s, iid)
    assert (view["status"], view["outcome"]) == ("completed", "Done")
    data = view["data"]
    assert (data["a"], data["c"], data["d"], data["x"], data["y"], data["z"]) == (1, 1, 1, 1, 2, 3)
    assert "e" not in data  # its condition was false


def test_rewrites_say_what_they_did_and_leave_plain_files_alone():
    root = etree.parse(str(STANDARD / "standard_constructs.bpmn")).getroot()
    done = rewrite(deepcopy(root))
    assert "'Task_a': implicit parallel split" in done
    assert "'Flow_d': unconditioned inclusive flow always taken" in done
    assert "sub-process 'Sub_startless': starts Sub_x, Sub_y" in done
    assert "data store 'DataStoreRef_archive' ignored" in done
    plain = etree.parse(str(FIXTURES / "small" / "small_approval.bpmn")).getroot()
    assert rewrite(plain) == []


def test_implicit_split_with_conditions_is_inclusive():
    root = etree.fromstring(
        b"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
        <bpmn:process id="p" isExecutable="true">
          <bpmn:task id="t" default="f3"/><bpmn:task id="u"/><bpmn:task id="v"/><bpmn:task id="w"/>
          <bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="u">
            <bpmn:conditionExpression>a &gt; 1</bpmn:conditionExpression>
          </bpmn:sequenceFlow>
          <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="v"/>
          <bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="w"/>
        </bpmn:process></bpmn:definitions>"""
    )
    assert rewrite(root) == ["'t': implicit inclusive split"]
    [gateway] = root.xpath("//*[local-name()='inclusiveGateway']")
    assert (gateway.get("id"), gateway.get("default")) == ("t__split", "f3")
    conditions = {
        f.get("id"): f.findtext("{*}conditionExpression") for f in root.xpath("//*[local-name()='sequenceFlow']")
    }
    assert {k: v.strip() if v else v for k, v in conditions.items()} == {
        "t__to_split": None,
        "f1": "a > 1",
        "f2": "True",
        "f3": None,
    }
