"""Separation of duties is for approvals (issue 18 item 20), and which member a screening is for
(issue 18 item 7), walked through the engine on both databases.

A host unit member who files a visit may not approve it as the host unit, but writes its post-visit
report (`approval="false"` on that step in bpmn/delegation_visit.bpmn); a step whose form has a
decision field is an approval unless the designer says otherwise (engine.permissions.is_approval).
Each parallel screening task carries the member's reference ("M2") as its subject, never a name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import PermissionDenied
from engine.definitions import ParsedDefinition
from engine.models import OutboxMessage, TaskRecord, User
from engine.permissions import is_approval
from engine.queries.inbox import InboxQuery, inbox_page
from engine.taskindex import task_subject
from engine.versions import latest_definition
from tests.engine.test_definitions import small_with
from tests.workflows.test_delegation_visit import (
    CLEARED,
    HOST,
    HOST_APPROVES,
    ITV,
    PROTOCOL,
    PROTOCOL_STEP,
    visit_request,
)
from tests.workflows.walk import Walker

REPORT = "UserTask_post_visit_report"
SCREEN = "UserTask_screen_member"


@pytest.fixture
def w(walker) -> Walker:
    return walker("delegation_visit")


def row_of(w: Walker, element: str) -> TaskRecord:
    with w.db.reading() as s:
        row = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == w.id, TaskRecord.element_id == element))
        found = [r for r in row if r.status == "ready"]
        assert len(found) == 1, f"{element}: {len(found)} open"
        s.expunge(found[0])
        return found[0]


def queue_steps(w: Walker, username: str, tab: str = "queue") -> list[str]:
    """The steps of this request in `username`'s inbox tab."""
    with w.db.reading() as s:
        person = s.scalar(select(User).where(User.username == username))
        page = inbox_page(s, person, InboxQuery(tab=tab, per_page=100), w.clock.now())
        return sorted(r.element_id or "" for r in page.rows if r.instance_id == w.id)


def may_work(w: Walker, username: str, element: str) -> Exception | None:
    with w.db.reading() as s:
        person = s.scalar(select(User).where(User.username == username))
        task = s.get(TaskRecord, row_of(w, element).id)
        return w.engine.may_work(s, person, task)


def test_the_host_who_filed_a_visit_writes_its_report_but_never_approves_it(w):
    w.start("htremblay", visit_request())
    screenings = [t for t in w.tasks() if t.element == SCREEN]
    assert len(screenings) == 3
    for task in screenings:
        w.complete(task, "sroy", **CLEARED)

    # the host unit's approval is an approval: not the filer's, whatever role they hold
    assert row_of(w, HOST).approval is True
    assert isinstance(may_work(w, "htremblay", HOST), PermissionDenied)
    assert HOST not in queue_steps(w, "htremblay")
    assert HOST in queue_steps(w, "mgirard")
    with pytest.raises(PermissionDenied) as refused:
        w.do(HOST, "htremblay", **HOST_APPROVES)
    assert refused.value.code == "own_request"
    w.do(HOST, "mgirard", **HOST_APPROVES)
    w.do(ITV, "cgagnon", itv_decision="approve")
    w.do(PROTOCOL_STEP, "cgagnon", **PROTOCOL)
    w.advance_to(datetime(2027, 4, 14, 21, 1, tzinfo=UTC))

    # the post-visit report is not an approval: the host who filed the visit writes it
    report = row_of(w, REPORT)
    assert (report.role, report.approval) == ("host_unit", False)
    assert may_work(w, "htremblay", REPORT) is None
    assert REPORT in queue_steps(w, "htremblay")
    w.do(REPORT, "htremblay", visit_summary="Productive", incidents=False)
    assert w.status == "completed"
    assert [t.completed_by for t in w.tasks(status="completed") if t.element == REPORT] == ["htremblay"]


def test_the_office_may_not_hand_the_filer_their_own_approval_but_may_hand_them_the_report(w):
    w.start("htremblay", visit_request(end_date="2027-04-12"))
    for task in [t for t in w.tasks() if t.element == SCREEN]:
        w.complete(task, "sroy", **CLEARED)
    with w.db.transaction() as s, pytest.raises(PermissionDenied) as refused:
        w.engine.reassign(s, row_of(w, HOST).id, "cgagnon", "htremblay", "to the filer")
    assert refused.value.code == "target_started_request"
    w.do(HOST, "mgirard", **HOST_APPROVES)
    w.do(ITV, "cgagnon", itv_decision="approve")
    w.do(PROTOCOL_STEP, "cgagnon", **PROTOCOL)
    w.advance_to(datetime(2027, 4, 12, 21, 1, tzinfo=UTC))
    with w.db.transaction() as s:
        moved = w.engine.reassign(s, row_of(w, REPORT).id, "cgagnon", "htremblay", "the filer writes it")
        assert moved.assignee is not None and moved.assignee.username == "htremblay"
    assert REPORT in queue_steps(w, "htremblay", tab="mine")


@pytest.mark.parametrize(
    ("props", "schema", "approval"),
    [
        ({}, {"properties": {"decision": {"enum": ["approve", "reject"]}}}, True),
        ({}, {"properties": {"visit_summary": {"type": "string"}}}, False),
        ({}, None, False),
        ({"approval": "true"}, {"properties": {"visit_summary": {"type": "string"}}}, True),
        ({"approval": " False "}, {"properties": {"decision": {"enum": ["approve"]}}}, False),
    ],
)
def test_a_step_with_a_decision_is_an_approval_unless_the_designer_says_otherwise(props, schema, approval):
    assert is_approval(props, schema) is approval


def test_each_screening_task_names_its_member_by_reference_never_by_name(w):
    w.start("lokafor", visit_request())
    with w.db.reading() as s:
        rows = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == w.id, TaskRecord.element_id == SCREEN))
        assert sorted(r.subject or "" for r in rows) == ["M1", "M2", "M3"]
        parsed: ParsedDefinition = w.engine.specs.get(s, latest_definition(s, "security_screening"))
    member = {"ref": "M2", "name": "Petra Klein", "passport_number": "C02Y11T58", "seat": 4, "vip": True}
    assert task_subject(parsed, {"member": member}, "member.ref") == "M2"
    assert task_subject(parsed, {"member": member}, "member.seat") == "4"
    for personal in ("member.name", "member.passport_number"):  # x-personal / x-sensitive: never shown
        assert task_subject(parsed, {"member": member}, personal) is None
    for missing in ("", "member", "member.vip", "member.none", "agency.name"):
        assert task_subject(parsed, {"member": member}, missing) is None


@pytest.mark.parametrize("value", ["yes", ""])
def test_the_check_refuses_an_approval_property_that_is_neither_true_nor_false(engine, value):
    approval = f'name="approval" value="{value}" /><spiffworkflow:property name="dueIn" value="P2D"'
    [finding] = engine.check(small_with('name="dueIn" value="P2D"', approval))
    assert finding["message"] == f"property approval='{value}' is neither 'true' nor 'false'"


def test_each_screening_email_names_its_member_by_reference(w):
    w.start("lokafor", visit_request())
    with w.db.reading() as s:
        query = select(OutboxMessage).where(OutboxMessage.instance_id == w.id, OutboxMessage.kind == "new_task")
        subjects = sorted(m.subject for m in s.scalars(query) if m.recipient.startswith("sroy"))
    assert [re.sub(r" — .*", "", subject) for subject in subjects] == [
        f"[Waypoint] New task: Screen visitor M{n}" for n in (1, 2, 3)
    ]
    assert not any(name in subject for subject in subjects for name in ("Hans", "Petra", "Omar"))
