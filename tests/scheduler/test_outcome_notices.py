"""The requester hears how their request ended, in their language, through real SMTP: a rejection
with its reason, a withdrawal, a cancellation by the office; and a return for changes reaches
them as the amend task's email. One email per ending, however often the instance is saved after."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.scheduler.conftest import open_task, outbox_rows
from tests.workflows.test_forms import CONFERENCE


@pytest.fixture
def office(flows, engine):
    with flows.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    return flows


def file_conference(db, engine, requester: str, event: str) -> int:
    with db.transaction() as s:
        return engine.start(s, "conference_attendance", {**CONFERENCE, "event_name": event}, requester).id


def test_rejection_reaches_the_requester_with_its_reason(office, engine, make_worker, smtp):
    iid = file_conference(office, engine, "jdoe", "Rejected Summit")
    with office.transaction() as s:
        engine.complete(
            s,
            open_task(office, iid).id,
            "msmith",
            {"supervisor_decision": "reject", "supervisor_comment": "No budget left this year"},
        )
    [row] = outbox_rows(office, "outcome")
    assert row.recipient == "jdoe@waypoint.example" and row.instance_id == iid
    make_worker().drain()
    [message] = [m for m in smtp.to("jdoe@") if "Rejected by supervisor" in str(m["Subject"])]
    body = message.get_body(("plain",)).get_content()
    assert f"Your request {iid} has ended: Rejected by supervisor." in body
    assert "Reason given: No budget left this year" in body


def test_french_requester_withdraws_and_office_cancels(office, engine, make_worker, smtp):
    mine = file_conference(office, engine, "rmartin", "Sommet retiré")
    other = file_conference(office, engine, "jdoe", "Cancelled Forum")
    with office.transaction() as s:
        engine.cancel(s, mine, "rmartin", "Plus nécessaire")
    with office.transaction() as s:
        engine.cancel(s, other, "admin", "Event postponed by the organiser")
    make_worker().drain()
    [withdrawn] = smtp.to("rmartin@")
    assert str(withdrawn["Subject"]).startswith(f"[Waypoint] Demande {mine} retirée")
    assert "Vous avez retiré votre demande" in withdrawn.get_body(("plain",)).get_content()
    [cancelled] = [m for m in smtp.to("jdoe@") if "cancelled" in str(m["Subject"])]
    body = cancelled.get_body(("plain",)).get_content()
    assert "was cancelled by admin" in body and "Reason given: Event postponed by the organiser" in body


def test_return_for_changes_reaches_the_requester_once(office, engine):
    iid = file_conference(office, engine, "jdoe", "Returned Congress")
    with office.transaction() as s:
        engine.complete(
            s,
            open_task(office, iid).id,
            "msmith",
            {"supervisor_decision": "return", "supervisor_comment": "Add the agenda"},
        )
    amend = open_task(office, iid)
    to_requester = [r for r in outbox_rows(office, "new_task", task_id=amend.id) if r.recipient.startswith("jdoe@")]
    assert len(to_requester) == 1 and outbox_rows(office, "outcome") == []


def test_a_french_recipients_task_email_names_the_process_in_french(office, engine):
    iid = file_conference(office, engine, "rmartin", "Congrès renvoyé")
    with office.transaction() as s:
        engine.complete(
            s,
            open_task(office, iid).id,
            "msmith",
            {"supervisor_decision": "return", "supervisor_comment": "Ajoutez le programme"},
        )
    [email] = [r for r in outbox_rows(office, "new_task") if r.recipient.startswith("rmartin@")]
    assert "Participation à une conférence" in email.body_text and "Conference attendance" not in email.body_text
