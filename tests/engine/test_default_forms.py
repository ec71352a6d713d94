"""Forms a task may have: none (a default form, with outcome buttons read from the diagram), a JSON
Schema named by Camunda's formKey, or a Camunda Forms `.form` file converted to JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import ValidationFailed
from engine.formjs import FormNotConvertible, convert
from engine.forms import decision_form
from engine.models import ProcessInstance, TaskRecord
from engine.people.roles import grant
from engine.sources import SourceSet
from engine.task_forms import parse_test


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approved == True", ("approved", True)),
        ("approved", ("approved", True)),
        ("not approved", ("approved", False)),
        ('decision == "approve"', ("decision", "approve")),
        ("decision == 'reject'", ("decision", "reject")),
        ("=approved", ("approved", True)),
        ('= decision = "approve"', ("decision", "approve")),
        ("=approved = false", ("approved", False)),
        ("${approved}", ("approved", True)),
        ("${!approved}", ("approved", False)),
        ("${decision == 'approve'}", ("decision", "approve")),
        ("${decision eq 'approve'}", ("decision", "approve")),
        ("${approved != true}", ("approved", False)),
        ("amount > 1000", None),
        ("a == b", None),
        ("approved and checked", None),
    ],
)
def test_a_flow_condition_that_tests_one_variable_against_a_literal(text, expected):
    assert parse_test(text) == expected


NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t"'
)


def diagram(task_attributes: str = "", yes: str = "approved == True", no: str = "approved == False") -> str:
    """A Camunda Modeler style diagram: a lane named freely, no Waypoint property at all."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="legal_review" name="Legal review" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="Lane_requester" name="Requester"><bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="Lane_legal" name="Legal"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Asked"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review the contract" {task_attributes}/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" name="Approved?"/>
    <bpmn:sequenceFlow id="yes" name="Approve" sourceRef="gw" targetRef="ok">
      <bpmn:conditionExpression>{yes}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" name="Send back" sourceRef="gw" targetRef="ko">
      <bpmn:conditionExpression>{no}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:endEvent id="ok" name="Approved"/>
    <bpmn:endEvent id="ko" name="Sent back"/>
  </bpmn:process>
</bpmn:definitions>
"""


def deploy(db, engine, files: dict[str, str]) -> None:
    sources = SourceSet()
    for path, text in files.items():
        sources.add(path, text)
    sources.requested = ["legal.bpmn"]
    with db.transaction() as s:
        engine.deploy(s, sources=sources, deployed_by="admin")
        grant(s, "msmith", "legal", "admin")


def the_task(db, engine) -> tuple[str, dict]:
    with db.transaction() as s:
        instance = engine.start(s, "legal_review", {}, "jdoe")
        row = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)).one()
        schema = engine.specs.get(s, instance.definition).form(row.form)
        return row.id, schema


def outcome(db, task_id: str) -> tuple[str, dict]:
    with db.reading() as s:
        row = s.get(TaskRecord, task_id)
        instance = s.get(ProcessInstance, row.instance_id)
        return instance.status, dict(instance.data or {})


def test_a_task_without_a_form_offers_the_outcomes_its_flows_test(people, engine):
    deploy(people, engine, {"legal.bpmn": diagram()})
    task_id, schema = the_task(people, engine)
    outcome_field = schema["properties"]["approved"]
    assert [(o["const"], o["title"]) for o in outcome_field["oneOf"]] == [(True, "Approve"), (False, "Send back")]
    assert "comment" in schema["properties"] and schema["required"] == ["approved"]
    assert decision_form(schema).decision_field == "approved"
    with pytest.raises(ValidationFailed):
        with people.transaction() as s:
            engine.complete(s, task_id, "msmith", {"approved": "yes please"})
    with people.transaction() as s:
        engine.complete(s, task_id, "msmith", {"approved": True, "comment": "fine"})
    status, data = outcome(people, task_id)
    assert status == "completed" and data["approved"] is True and data["comment"] == "fine"


def test_outcome_buttons_from_string_literals_in_juel(engine, people):
    files = {"legal.bpmn": diagram(yes="${decision == 'approve'}", no="${decision == 'return'}")}
    sources = SourceSet(files=files, requested=["legal.bpmn"])
    assert [f for f in engine.check(sources) if f["severity"] == "error"] == []
    from engine.definitions import build_parsed

    parsed = build_parsed("legal_review", files)
    schema = parsed.form("default:review")
    assert [o["const"] for o in schema["properties"]["decision"]["oneOf"]] == ["approve", "return"]


def test_a_task_whose_flows_test_nothing_gets_comment_and_complete(engine):
    files = {"legal.bpmn": diagram(yes="amount > 10", no="amount &lt;= 10")}
    from engine.definitions import build_parsed

    schema = build_parsed("legal_review", files).form("default:review")
    assert list(schema["properties"]) == ["comment"] and decision_form(schema) is None


def test_camunda_form_key_naming_a_json_schema(people, engine):
    form = {
        "type": "object",
        "required": ["approved"],
        "properties": {"approved": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 5}},
    }
    deploy(
        people,
        engine,
        {
            "legal.bpmn": diagram('camunda:formKey="embedded:app:forms/review.json"'),
            "forms/review.json": json.dumps(form),
        },
    )
    task_id, schema = the_task(people, engine)
    assert schema == form
    with pytest.raises(ValidationFailed):
        with people.transaction() as s:
            engine.complete(s, task_id, "msmith", {"approved": True, "reason": "far too long"})
    with people.transaction() as s:
        engine.complete(s, task_id, "msmith", {"approved": False, "reason": "no"})
    assert outcome(people, task_id)[0] == "completed"


CAMUNDA_FORM = {
    "id": "ContractReview",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {"type": "text", "text": "# Review"},
        {"type": "checkbox", "key": "approved", "label": "Approved"},
        {
            "type": "textfield",
            "key": "reference",
            "label": "Reference",
            "validate": {"required": True, "pattern": "^C-\\d+$"},
        },
        {"type": "number", "key": "pages", "label": "Pages", "validate": {"min": 1, "max": 50}, "decimalDigits": 0},
        {
            "type": "select",
            "key": "risk",
            "label": "Risk",
            "values": [{"label": "Low", "value": "low"}, {"label": "High", "value": "high"}],
            "validate": {"required": True},
        },
        {"type": "textarea", "key": "notes", "label": "Notes", "validate": {"maxLength": 10}},
        {"type": "datetime", "key": "signed", "subtype": "date", "dateLabel": "Signed"},
    ],
}


def test_a_camunda_forms_file_is_converted_and_validated_with_the_same_care(people, engine):
    deploy(
        people,
        engine,
        {
            "legal.bpmn": diagram('camunda:formRef="ContractReview"'),
            "review.form": json.dumps(CAMUNDA_FORM),
        },
    )
    task_id, schema = the_task(people, engine)
    assert schema["required"] == ["reference", "risk"]
    assert schema["properties"]["pages"] == {"title": "Pages", "type": "integer", "minimum": 1, "maximum": 50}
    bad = [
        {"approved": True, "risk": "low"},  # reference is required
        {"approved": True, "reference": "X-1", "risk": "low"},  # pattern
        {"approved": True, "reference": "C-1", "risk": "medium"},  # not an option
        {"approved": True, "reference": "C-1", "risk": "low", "pages": 51},  # max
        {"approved": True, "reference": "C-1", "risk": "low", "notes": "far too long"},  # maxLength
        {"approved": "yes", "reference": "C-1", "risk": "low"},  # type
        {"approved": True, "reference": "C-1", "risk": "low", "signed": "tomorrow"},  # date format
    ]
    for data in bad:
        with pytest.raises(ValidationFailed):
            with people.transaction() as s:
                engine.complete(s, task_id, "msmith", data)
    good = {"approved": True, "reference": "C-12", "risk": "high", "pages": 3, "signed": "2026-12-01"}
    with people.transaction() as s:
        engine.complete(s, task_id, "msmith", good)
    status, data = outcome(people, task_id)
    assert status == "completed" and data["risk"] == "high"


def test_a_form_waypoint_cannot_show_is_a_finding_naming_the_field(engine):
    dynamic = {"components": [{"type": "select", "key": "country", "valuesKey": "countries"}]}
    with pytest.raises(FormNotConvertible) as refused:
        convert(dynamic)
    assert refused.value.field == "country"
    files = {"legal.bpmn": diagram('camunda:formKey="camunda-forms:deployment:c.form"'), "c.form": json.dumps(dynamic)}
    findings = engine.check(SourceSet(files=files, requested=["legal.bpmn"]))
    [finding] = [f for f in findings if f["file"] == "c.form"]
    assert finding["element"] == "country" and "list them in the form" in finding["message"]


def test_a_form_key_naming_no_file_is_an_error(engine):
    files = {"legal.bpmn": diagram('camunda:formKey="camunda-forms:deployment:missing.form"')}
    [finding] = [f for f in engine.check(SourceSet(files=files, requested=["legal.bpmn"])) if f["severity"] == "error"]
    assert (finding["element"], finding["name"]) == ("review", "Review the contract")
    assert "missing.form" in finding["message"]


def test_waypoints_own_forms_are_unchanged(engine):
    from engine.definitions import build_parsed, read_sources

    root = Path(__file__).resolve().parents[2] / "bpmn"
    sources = read_sources([root / "conference_attendance.bpmn"])
    parsed = build_parsed("conference_attendance", sources.files)
    assert not [key for key in parsed.forms if key.startswith("default:")]
