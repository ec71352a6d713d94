"""The decision rule (engine/forms.py): which field is a form's decision and its comment, and when
a step can be decided in one click (email link, reply, bulk approval)."""

from __future__ import annotations

import json

import pytest

from engine.forms import decision_details, decision_form, is_comment_field, is_decision_field
from tests.conftest import ROOT


def real(name: str) -> dict:
    return json.loads((ROOT / "bpmn" / "forms" / f"{name}.schema.json").read_text())


def test_the_naming_convention():
    assert is_decision_field("decision") and is_decision_field("ethics_decision")
    assert not is_decision_field("decisions") and not is_decision_field("indecision")
    assert is_comment_field("comment") and is_comment_field("senior_comment")
    assert not is_comment_field("comments")


@pytest.mark.parametrize(
    ("form", "approve", "reject"),
    [
        ("conference_supervisor_review", True, True),
        ("conference_senior_approval", True, True),
        ("conference_ethics_review", True, True),  # "approve with conditions" needs the page
        ("delegation_coordinator_approval", True, True),
        ("conference_finance_review", False, True),  # funds are "confirmed", with a cost centre
        ("visa_follow_up", False, False),  # its required input is the follow-up action
    ],
)
def test_one_click_on_the_real_forms(form, approve, reject):
    rule = decision_form(real(form))
    assert (rule.allows("approve"), rule.allows("reject")) == (approve, reject)
    assert not rule.allows("approve_with_conditions") and not rule.allows("return")


def test_forms_without_exactly_one_decision_take_no_one_click_decision():
    assert decision_form(real("conference_request")) is None
    two = {"properties": {"a_decision": {"enum": ["approve"]}, "b_decision": {"enum": ["approve"]}}}
    assert decision_form(two) is None
    assert decision_form(None) is None


def test_a_decision_is_submitted_with_its_own_comment_field():
    rule = decision_form(real("conference_supervisor_review"))
    assert rule.submission("approve", "  fine by me ") == {
        "supervisor_decision": "approve",
        "supervisor_comment": "fine by me",
    }
    assert rule.submission("reject", "   ") == {"supervisor_decision": "reject"}
    bare = decision_form({"required": ["decision"], "properties": {"decision": {"enum": ["approve", "reject"]}}})
    assert bare.comment_field is None and bare.submission("approve", "lost") == {"decision": "approve"}


def test_any_other_required_field_means_the_task_page():
    schema = {
        "required": ["decision", "cost_centre"],
        "properties": {"decision": {"enum": ["approve", "reject"]}, "comment": {}, "cost_centre": {}},
    }
    rule = decision_form(schema)
    assert rule.other_required == ("cost_centre",) and not rule.allows("approve") and not rule.allows("reject")
    schema["required"] = ["decision", "comment"]  # a required comment is still a one-click decision with a comment
    assert decision_form(schema).allows("reject")


def test_the_audit_trail_keeps_decisions_and_comments():
    submitted = {"finance_decision": "reject", "finance_comment": "x" * 1500, "cost_centre": "CC-1", "decision": 3}
    assert decision_details(submitted) == {"finance_decision": "reject", "finance_comment": "x" * 1000}
