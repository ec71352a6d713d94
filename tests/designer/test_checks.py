"""Check rules, table-driven over small broken diagrams: each finding names the element (id and name)."""

from __future__ import annotations

import pytest

from engine import Engine
from engine.checks import check_sources
from engine.definitions import parse_sources
from engine.roles_check import role_facts
from engine.scripting import ALLOWED_BUILTIN_NAMES
from tests.designer.conftest import small

REVIEW = ("Task_review", "Supervisor review")
PAYMENT = ("Event_payment", "Payment confirmed")
TIMER = ("Timer_review_late", "Review late")
GATEWAY = ("Gateway_decision", "Approved?")
CALL = (
    '<bpmn:endEvent id="EndEvent_rejected" name="Rejected">',
    '<bpmn:callActivity id="Call_other" name="Other process" calledElement="{called}" />'
    '<bpmn:endEvent id="EndEvent_rejected" name="Rejected">',
)
RULE = (
    '<bpmn:endEvent id="EndEvent_rejected" name="Rejected">',
    '<bpmn:businessRuleTask id="Rule_route" name="Route"><bpmn:extensionElements>'
    "<spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId></bpmn:extensionElements>"
    '</bpmn:businessRuleTask><bpmn:endEvent id="EndEvent_rejected" name="Rejected">',
)

CASES = [
    # (id, edits, element (id, name), words in the message)
    (
        "reserved-id",
        [
            ('id="StartEvent_request"', 'id="Start"'),
            (">StartEvent_request<", ">Start<"),
            ('sourceRef="StartEvent_request"', 'sourceRef="Start"'),
        ],
        ("Start", "Request"),
        "collides",
    ),
    (
        "lane-a-new-role",
        [('name="Supervisor"', 'name="Astronauts"')],
        REVIEW,
        "new role 'astronauts' (lane 'Astronauts'), no members yet: the deploy creates it",
    ),
    (
        "task-in-no-lane",
        [
            ("<bpmn:flowNodeRef>Task_review</bpmn:flowNodeRef>", ""),
            ('<spiffworkflow:property name="assignee" value="manager" />', ""),
        ],
        REVIEW,
        "no one may do this task",
    ),
    (
        "form-missing",
        [
            (
                'value="forms/review.schema.json" />\n          <spiffworkflow:property name="dueIn"',
                'value="forms/nope.schema.json" />\n          <spiffworkflow:property name="dueIn"',
            )
        ],
        REVIEW,
        "form 'forms/nope.schema.json' does not exist",
    ),
    (
        "due-not-iso",
        [('name="dueIn" value="P2D"', 'name="dueIn" value="two days"')],
        REVIEW,
        "not an ISO 8601 duration",
    ),
    (
        "gateway-unguarded",
        [('default="Flow_rejected"', "")],
        GATEWAY,
        "has no condition and is not the gateway's default",
    ),
    (
        "timer-not-iso",
        [("<bpmn:timeDuration>P3D</bpmn:timeDuration>", "<bpmn:timeDuration>P3X</bpmn:timeDuration>")],
        TIMER,
        "timer 'P3X' is not a valid ISO 8601 value",
    ),
    (
        "script-import",
        [("total = round(amount * 1.13, 2)", "import os")],
        ("Task_total", "Compute total"),
        "imports are not allowed",
    ),
    (
        "script-unknown-helper",
        [("total = round(amount * 1.13, 2)", "total = send_fax(amount)")],
        ("Task_total", "Compute total"),
        "unknown function 'send_fax'",
    ),
    ("condition-dunder", [('decision == "approve"', "decision.__class__")], ("Flow_approved", None), "not allowed"),
    (
        "call-unresolved",
        [(CALL[0], CALL[1].format(called="no_such_process"))],
        ("Call_other", "Other process"),
        "calls process 'no_such_process', which is in none of these files",
    ),
    (
        "call-without-process",
        [(CALL[0], CALL[1].replace(' calledElement="{called}"', ""))],
        ("Call_other", "Other process"),
        "names no process",
    ),
    (
        "decision-unresolved",
        [(RULE[0], RULE[1].format(decision="no_such_table"))],
        ("Rule_route", "Route"),
        "uses decision 'no_such_table', which is in no DMN file here",
    ),
    (
        "message-without-ref",
        [(' messageRef="Message_payment">\n        <bpmn:extensionElements>', ">\n        <bpmn:extensionElements>")],
        PAYMENT,
        "would use its own name 'Payment confirmed', which is not a known message",
    ),
    (
        "correlation-empty",
        [("<bpmn:messagePath>order_ref</bpmn:messagePath>", "<bpmn:messagePath></bpmn:messagePath>")],
        ("order_ref", "Order reference"),
        "empty expression",
    ),
]


@pytest.mark.parametrize(("edits", "element", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_the_element(engine: Engine, edits, element, words):
    findings = engine.check(small(*edits))
    matching = [f for f in findings if words in f["message"]]
    assert matching, findings
    finding = matching[0]
    assert (finding["element"], finding["name"]) == element
    assert finding["file"] == "small_approval.bpmn" and isinstance(finding["line"], int)


def test_the_unchanged_files_pass(engine: Engine):
    assert engine.check(small()) == []


def test_a_message_registered_by_workflows_is_known():
    sources = parse_sources(
        small(
            (' messageRef="Message_payment">\n        <bpmn:extensionElements>', ">\n        <bpmn:extensionElements>")
        ).files
    )
    names = set(ALLOWED_BUILTIN_NAMES) | {"today"}
    assert check_sources(sources, role_facts(None), names, known_messages=[]) != []
    assert check_sources(sources, role_facts(None), names, known_messages=["Payment confirmed"]) == []


def test_a_message_reference_to_nothing_is_a_finding(engine: Engine):
    [finding] = engine.check(
        small(
            (
                'messageRef="Message_payment">\n        <bpmn:extensionElements>',
                'messageRef="Message_nothing">\n        <bpmn:extensionElements>',
            )
        )
    )
    assert (finding["element"], finding["name"]) == PAYMENT
    assert finding["message"] == "message 'Message_nothing' is not declared in this file (bpmn:message)"


def test_a_correlation_without_expression_is_refused_by_the_schema(engine: Engine):
    [finding] = engine.check(small(("<bpmn:messagePath>order_ref</bpmn:messagePath>", "")))
    assert finding["line"] == 7 and "messagePath" in finding["message"] and finding["severity"] == "error"


def test_unparsable_files_are_findings_not_crashes(engine: Engine):
    [finding] = engine.check(small(("</bpmn:process>", "</bpmn:proces>")))
    assert finding["file"] == "small_approval.bpmn"
    assert "not well-formed XML" in finding["message"]
