"""Reply-to-approve through a real inbound SMTP endpoint: decisions, garbage, forgeries, loops, replays."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from engine.mailin import parse_command, serve
from engine.models import AuditEvent, TaskRecord
from tests.scheduler.conftest import free_port, open_task, outbox_rows, start


@pytest.fixture
def mailin(flows, engine, mail_config) -> Iterator[int]:
    port = free_port()
    controller = serve(flows, engine, "127.0.0.1", port, mail_config)
    yield port
    controller.stop()


def notification(db, engine, make_worker, smtp, user: str = "jdoe") -> tuple[str, EmailMessage]:
    """Start a request, let the worker mail msmith, return (task id, the email he received)."""
    iid = start(db, engine, user=user)
    make_worker().drain()
    [message] = smtp.to("msmith@")
    return open_task(db, iid).id, message


def reply(port: int, to: str, body: str, sender: str = "msmith@waypoint.example", **headers: str) -> None:
    message = EmailMessage()
    message["From"] = f"Marc Smith <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: [Waypoint] New task"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.send_message(message)


def task_status(db, task_id: str) -> str:
    with db.reading() as s:
        return s.get(TaskRecord, task_id).status


def test_parse_command():
    assert parse_command("APPROVE") == ("approve", "")
    assert parse_command("\n\n  approve: fine by me\n\nOn Monday...\n> quoted") == ("approve", "fine by me")
    assert parse_command("Reject - dates overlap the audit") == ("reject", "dates overlap the audit")
    assert parse_command("APPROUVER Aucune objection") == ("approve", "Aucune objection")
    assert parse_command("rejeter") == ("reject", "")
    assert parse_command("**APPROVE**") == ("approve", "")
    for garbage in ("", "Sounds good!", "> APPROVE", "I approve", "Approve? Not sure", "approvement"):
        assert parse_command(garbage) is None, garbage


def test_reply_approve_happy_path(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    quoted = "\n".join("> " + line for line in message.get_body(("plain",)).get_content().splitlines())
    reply(mailin, message["Reply-To"], f"APPROVE Looks fine, enjoy Lyon\n\nOn Monday Waypoint wrote:\n{quoted}\n")
    with db.reading() as s:
        row = s.get(TaskRecord, task_id)
        assert (row.status, row.completed_by.username) == ("completed", "msmith")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed")).one()
        assert (event.actor, event.details["decision"], event.details["comment"]) == (
            "msmith",
            "approve",
            "Looks fine, enjoy Lyon",
        )
    make_worker().drain()
    [confirmation] = [m for m in smtp.to("msmith@") if "Recorded" in str(m["Subject"])]
    assert "approved" in confirmation.get_body(("plain",)).get_content()
    assert confirmation["Auto-Submitted"] == "auto-replied"

    reply(mailin, message["Reply-To"], "REJECT changed my mind")  # the same address again: used up
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    assert "already used" in bounce.get_body(("plain",)).get_content()
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).status == "completed"
        assert len(list(s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed")))) == 1


def test_reply_in_french_rejects(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    reply(mailin, message["Reply-To"].upper(), "REJETER Les dates chevauchent la vérification")
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).status == "completed"
        [instance_outcome] = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "task_completed"))
    assert instance_outcome["decision"] == "reject"


def test_garbage_gets_a_polite_answer_and_changes_nothing(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    reply(mailin, message["Reply-To"], "Can we talk about this tomorrow?\n\nAPPROVE\n")
    assert task_status(db, task_id) == "ready"
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    text = bounce.get_body(("plain",)).get_content()
    assert "neither APPROVE nor REJECT" in text and f"/tasks/{task_id}" in text

    reply(mailin, message["Reply-To"], "APPROVE")  # the address still works after a bounce
    assert task_status(db, task_id) == "completed"


def test_forged_foreign_and_expired_addresses_are_refused_in_the_smtp_dialogue(
    flows, engine, make_worker, smtp, mailin, clock
):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    forged = "r-" + "a" * 56 + "@reply.waypoint.test"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        reply(mailin, forged, "APPROVE")
    assert info.value.recipients[forged][0] == 550
    with pytest.raises(smtplib.SMTPDataError) as info:  # someone else replying with msmith's address
        reply(mailin, message["Reply-To"], "APPROVE", sender="fchan@waypoint.example")
    assert info.value.smtp_code == 550
    clock.advance(days=7, seconds=1)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        reply(mailin, message["Reply-To"], "APPROVE")
    assert task_status(db, task_id) == "ready"
    assert outbox_rows(db, "reply_bounce") == []  # refusals go back through SMTP, never to a stranger


def test_automatic_replies_are_ignored(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    reply(mailin, message["Reply-To"], "I am out of the office until Monday.", Auto_Submitted="auto-replied")
    reply(mailin, message["Reply-To"], "APPROVE", Precedence="bulk")
    assert task_status(db, task_id) == "ready"
    assert outbox_rows(db, "reply_bounce") == []


def test_a_comment_the_form_requires_is_explained(flows, engine, make_worker, smtp, mailin, monkeypatch):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    engine.glue.process(
        "reminder_demo",
        validators={
            "forms/decision.schema.json": lambda d: (
                [("comment", "Explain the rejection.")]
                if d.get("decision") == "reject" and not d.get("comment")
                else []
            )
        },
    )
    try:
        reply(mailin, message["Reply-To"], "REJECT")
    finally:
        engine.glue.processes.pop("reminder_demo", None)
    assert task_status(db, task_id) == "ready"
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    assert "Explain the rejection." in bounce.get_body(("plain",)).get_content()
