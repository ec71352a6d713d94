"""Standard and Camunda task assignment, honoured at run time, on both databases.

Diagrams as Camunda Modeler and other tools save them (no Waypoint properties): freely named lanes
and candidate groups become roles at deploy, assignees are expressions over the request, candidate
users are offered the task by name, and `potentialOwner`/`humanPerformer` work the same way.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import PermissionDenied
from engine.models import AuditEvent, Incident, OutboxMessage, ProcessInstance, Role
from engine.people import roles
from engine.people.users import get_user
from engine.queries.inbox import InboxQuery, inbox_page
from engine.queries.tasks import list_tasks
from engine.sources import SourceSet
from engine.task_owners import read_declarations
from tests.conftest import FIXTURES

ASSIGNMENT = FIXTURES / "assignment"


def deploy(db, engine, name):
    with db.transaction() as s:
        engine.deploy(s, [ASSIGNMENT / name], deployed_by="admin")


def open_task(db, instance_id):
    with db.reading() as s:
        [row] = list_tasks(s, instance_id=instance_id)
        return row.id, row.element_id, row.role, row.assignee.username if row.assignee else None


def queue_of(db, clock, username, tab="mine"):
    """Task names in the person's inbox tab ("mine": held by them, "queue": their queues)."""
    with db.reading() as s:
        page = inbox_page(s, get_user(s, username), InboxQuery(tab=tab), clock.now())
        return sorted(row.step for row in page.rows)


def complete(db, engine, task_id, username):
    with db.transaction() as s:
        engine.complete(s, task_id, username, {})


def test_camunda_modeler_diagram_reaches_the_right_inboxes(people, engine, clock):
    db = people
    deploy(db, engine, "camunda/contract_review.bpmn")
    with db.transaction() as s:
        assert {"legal", "finance_team"} <= {r.key for r in roles.roles(s)}  # created by the deploy
        roles.grant(s, "ebrown", "legal", actor="admin")
        roles.grant(s, "sroy", "Finance Team", actor="admin")
        iid = engine.start(s, "contract_review", {"approver": "fchan"}, "jdoe").id

    task, element, _, assignee = open_task(db, iid)
    assert (element, assignee) == ("Activity_prepare", "jdoe")  # camunda:assignee="${initiator}"
    assert queue_of(db, clock, "jdoe") == ["Prepare the file"]
    complete(db, engine, task, "jdoe")

    task, element, role, assignee = open_task(db, iid)
    assert (element, role, assignee) == ("Activity_legal", "legal", None)  # the lane "Legal"
    assert queue_of(db, clock, "ebrown", "queue") == ["Legal review"]
    complete(db, engine, task, "ebrown")

    task, element, _, assignee = open_task(db, iid)
    assert (element, assignee) == ("Activity_approve", "fchan")  # a field holding a username
    assert queue_of(db, clock, "fchan") == ["Approve"]
    complete(db, engine, task, "fchan")

    task, element, role, assignee = open_task(db, iid)
    assert (element, role, assignee) == ("Activity_pay", "finance_team", None)  # candidate group over lane
    assert queue_of(db, clock, "sroy", "queue") == ["Pay the fee"]
    complete(db, engine, task, "sroy")

    task, element, role, assignee = open_task(db, iid)
    assert (element, role, assignee) == ("Activity_acknowledge", None, None)  # candidate users
    assert queue_of(db, clock, "msmith", "queue") == queue_of(db, clock, "dlee", "queue") == ["Acknowledge"]
    assert queue_of(db, clock, "sroy", "queue") == []
    with db.reading() as s:  # the new-task email goes to the people it is offered to
        mail = s.scalars(select(OutboxMessage.recipient_name).where(OutboxMessage.task_id == task)).all()
    assert sorted(mail) == ["Diane Lee", "Marc Smith"]
    with db.transaction() as s, pytest.raises(PermissionDenied) as refused:
        engine.complete(s, task, "sroy", {})
    assert refused.value.code == "task_offered_to_others"
    complete(db, engine, task, "dlee")
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).status == "completed"


def test_standard_potential_owner_and_human_performer(people, engine, clock):
    db = people
    deploy(db, engine, "standard/standard_owners.bpmn")
    with db.transaction() as s:
        assert s.get(Role, "accountant").name_en == "Accountant"  # potentialOwner's resource
        assert s.get(Role, "manager") is None  # a humanPerformer names a person, not a role
        roles.grant(s, "fchan", "accountant", actor="admin")
        roles.grant(s, "htremblay", "hr", actor="admin")
        iid = engine.start(s, "standard_owners", {}, "jdoe").id

    task, element, role, _ = open_task(db, iid)
    assert (element, role) == ("Task_accounts", "accountant")
    assert queue_of(db, clock, "fchan", "queue") == ["Check the accounts"]
    complete(db, engine, task, "fchan")

    task, element, role, _ = open_task(db, iid)
    assert (element, role) == ("Task_hr", "hr")  # potentialOwner with a formal expression
    complete(db, engine, task, "htremblay")

    task, element, _, assignee = open_task(db, iid)
    assert (element, assignee) == ("Task_boss", "msmith")  # humanPerformer: the requester's manager
    assert queue_of(db, clock, "msmith") == ["Manager sign-off"]
    complete(db, engine, task, "msmith")
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).status == "completed"


def test_a_role_nobody_else_holds_goes_to_the_fallback_queue_with_an_incident(people, engine, clock):
    db = people
    deploy(db, engine, "camunda/contract_review.bpmn")
    with db.transaction() as s:  # nobody holds "legal", which the deploy created
        iid = engine.start(s, "contract_review", {"approver": "fchan"}, "jdoe").id
    complete(db, engine, open_task(db, iid)[0], "jdoe")

    task, element, role, _ = open_task(db, iid)
    assert (element, role) == ("Activity_legal", "itv_coordinator")  # the office's fallback queue
    assert queue_of(db, clock, "cgagnon", "queue") == ["Legal review"]
    with db.reading() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == iid)).all()
    assert (incident.kind, incident.status, incident.task_id) == ("unworkable", "open", task)
    assert "legal" in incident.error
    complete(db, engine, task, "cgagnon")
    assert open_task(db, iid)[1] == "Activity_approve"


def test_granting_the_role_brings_a_waiting_task_back_to_its_queue(people, engine, clock):
    db = people
    deploy(db, engine, "camunda/contract_review.bpmn")
    with db.transaction() as s:
        iid = engine.start(s, "contract_review", {"approver": "fchan"}, "jdoe").id
    complete(db, engine, open_task(db, iid)[0], "jdoe")
    task, _, role, _ = open_task(db, iid)
    assert role == "itv_coordinator"  # nobody holds legal yet
    with db.transaction() as s:
        roles.grant(s, "jdoe", "legal", actor="admin")  # the requester: still nobody who may act
    assert open_task(db, iid)[2] == "itv_coordinator"
    with db.transaction() as s:
        roles.grant(s, "ebrown", "legal", actor="admin")
    assert open_task(db, iid)[2] == "legal"
    assert queue_of(db, clock, "ebrown", "queue") == ["Legal review"]
    assert queue_of(db, clock, "cgagnon", "queue") == []
    with db.reading() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == iid)).all()
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid))]
    assert (incident.status, incident.resolved_by) == ("retried", "admin")
    assert actions[-2:] == ["incident_opened", "incident_retried"]
    complete(db, engine, task, "ebrown")


def test_declarations_are_read_from_every_tool_s_attributes():
    xml = (ASSIGNMENT / "camunda" / "contract_review.bpmn").read_text()
    found = read_declarations({"contract_review.bpmn": xml})
    assert found["Activity_prepare"].assignee == "${initiator}"
    assert found["Activity_pay"].candidate_groups == ("Finance Team",)
    assert found["Activity_acknowledge"].candidate_users == ("msmith", "dlee")
    assert "Activity_legal" not in found  # lane only
    zeebe = xml.replace(
        'camunda:assignee="${initiator}">',
        '><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="=Legal, HR" /></bpmn:extensionElements>',
    ).replace("xmlns:modeler=", 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler=')
    assert read_declarations({"z.bpmn": zeebe})["Activity_prepare"].candidate_groups == ("Legal", "HR")


def test_plain_variable_names_and_the_next_candidate_group_someone_holds(people, engine):
    db = people
    xml = (
        (ASSIGNMENT / "camunda" / "contract_review.bpmn")
        .read_text()
        .replace('camunda:assignee="${approver}"', 'camunda:assignee="approver"')
        .replace('camunda:candidateGroups="Finance Team"', 'camunda:candidateGroups="Finance Team, Treasury"')
    )
    with db.transaction() as s:
        engine.deploy(s, sources=SourceSet(files={"contract_review.bpmn": xml}, requested=["contract_review.bpmn"]))
        roles.grant(s, "ebrown", "legal", actor="admin")
        roles.grant(s, "sroy", "treasury", actor="admin")  # nobody holds finance_team
        iid = engine.start(s, "contract_review", {"approver": "fchan"}, "jdoe").id
    complete(db, engine, open_task(db, iid)[0], "jdoe")
    complete(db, engine, open_task(db, iid)[0], "ebrown")
    task, element, _, assignee = open_task(db, iid)
    assert (element, assignee) == ("Activity_approve", "fchan")  # a plain variable name
    complete(db, engine, task, "fchan")
    task, element, role, _ = open_task(db, iid)
    assert (element, role) == ("Activity_pay", "treasury")  # the first group someone may work
    complete(db, engine, task, "sroy")


def test_a_candidate_group_chosen_from_the_request(people, engine):
    db = people
    xml = (
        (ASSIGNMENT / "camunda" / "contract_review.bpmn")
        .read_text()
        .replace('camunda:candidateGroups="Finance Team"', 'camunda:candidateGroups="${team}"')
    )
    with db.transaction() as s:
        engine.deploy(s, sources=SourceSet(files={"contract_review.bpmn": xml}, requested=["contract_review.bpmn"]))
        assert s.get(Role, "team") is None  # an expression names no role at deploy
        roles.create_role(s, "Treasury", "Trésorerie", actor="admin")
        roles.grant(s, "sroy", "treasury", actor="admin")
        roles.grant(s, "ebrown", "legal", actor="admin")
        iid = engine.start(s, "contract_review", {"approver": "fchan", "team": "Treasury"}, "jdoe").id
    for who in ("jdoe", "ebrown", "fchan"):
        complete(db, engine, open_task(db, iid)[0], who)
    task, element, role, _ = open_task(db, iid)
    assert (element, role) == ("Activity_pay", "treasury")
