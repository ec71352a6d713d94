"""Diff between two file sets: elements added, removed and changed by id, in words and for the diagram."""

from __future__ import annotations

from engine.definitions import read_sources
from engine.designer.diff import diff_files
from tests.designer.conftest import BPMN, small

SECOND_REVIEW = (
    '<bpmn:sequenceFlow id="Flow_3" sourceRef="Task_review" targetRef="Gateway_decision" />',
    '<bpmn:sequenceFlow id="Flow_3" sourceRef="Task_review" targetRef="Task_second" />'
    '<bpmn:userTask id="Task_second" name="Second review"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formJsonSchemaFilename" value="forms/review.schema.json" />'
    "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"
    '<bpmn:sequenceFlow id="Flow_3b" sourceRef="Task_second" targetRef="Gateway_decision" />',
)

SECOND_REVIEW_LANE = (
    "<bpmn:flowNodeRef>Task_escalated_review</bpmn:flowNodeRef>",
    "<bpmn:flowNodeRef>Task_escalated_review</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_second</bpmn:flowNodeRef>",
)


def test_identical_files_have_no_changes():
    files = read_sources([BPMN / "conference_attendance.bpmn"]).files
    assert diff_files(files, dict(files)).empty


def test_added_removed_and_changed_elements_by_id_in_words():
    old = small().files
    new = small(
        ('name="dueIn" value="P2D"', 'name="dueIn" value="P4D"'),
        SECOND_REVIEW,
        (
            '<bpmn:endEvent id="EndEvent_rejected" name="Rejected">\n'
            "      <bpmn:incoming>Flow_rejected</bpmn:incoming>\n    </bpmn:endEvent>",
            "",
        ),
    ).files
    diff = diff_files(old, new)
    words = {c.element: c.words() for c in diff.changes}
    assert words["Task_review"] == "user task 'Supervisor review' (Task_review) changed: dueIn: 'P2D' → 'P4D'"
    assert words["Task_second"] == "user task 'Second review' (Task_second) added"
    assert words["EndEvent_rejected"] == "end event 'Rejected' (EndEvent_rejected) removed"
    assert words["Flow_3"].endswith("targetRef: 'Gateway_decision' → 'Task_second'")
    markers = diff.markers("small_approval.bpmn")
    assert {"Task_second", "Flow_3b"} <= set(markers["added"]) and markers["removed"] == ["EndEvent_rejected"]
    assert "Task_review" in markers["changed"]


def test_a_decision_table_change_marks_the_rule_task_that_uses_it():
    files = read_sources([BPMN / "conference_attendance.bpmn"]).files
    new = dict(files)
    path = "rules/conference_approval_route.dmn"
    new[path] = files[path].replace("&gt;= 5000", "&gt;= 3000")
    diff = diff_files(files, new)
    rules = [c for c in diff.changes if c.file == path]
    assert [c.element for c in rules] == [f"Rule_conference_approval_route_{n}" for n in (3, 6, 9, 12)]
    assert "when Total cost (CAD): '>= 5000' → '>= 3000'" in rules[0].words()
    [task] = [c for c in diff.changes if c.file == "conference_attendance.bpmn"]
    assert (task.element, task.details) == (
        "BusinessRuleTask_approval_route",
        ["decision table conference_approval_route changed"],
    )


def test_form_fields_and_layout():
    files = read_sources([BPMN / "conference_attendance.bpmn"]).files
    new = dict(files)
    form = "forms/conference_senior_approval.schema.json"
    new[form] = files[form].replace(
        '"properties": {', '"properties": {"budget_line": {"type": "string", "title": "Budget line"},', 1
    )
    main = "conference_attendance.bpmn"
    new[main] = files[main].replace('<dc:Bounds x="', '<dc:Bounds x="1', 1)  # layout only
    diff = diff_files(files, new)
    assert [c.words() for c in diff.changes] == ["field 'Budget line' (budget_line) added"]
    new["forms/extra.schema.json"] = "{}"
    assert diff_files(files, new).files_added == ["forms/extra.schema.json"]
