"""Reply-to-approve through a real inbound SMTP endpoint: decisions, garbage, forgeries, loops, replays."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from dataclasses import replace
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


def quoted(original: EmailMessage) -> str:
    """The notification quoted below a reply, as mail programs do (it carries the reply code)."""
    lines = original.get_body(("plain",)).get_content().splitlines()
    return "\n\nOn Monday Waypoint wrote:\n" + "\n".join("> " + line for line in lines)


def reply(
    port: int,
    to: str,
    body: str,
    sender: str = "msmith@waypoint.example",
    *,
    quoting: EmailMessage | None = None,
    envelope: str | None = None,
    top_headers: tuple[tuple[str, str], ...] = (),
    **headers: str,
) -> None:
    message = EmailMessage()
    for name, value in top_headers:  # what the receiving MTA prepends
        message[name] = value
    message["From"] = f"Marc Smith <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: [Waypoint] New task"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body + (quoted(quoting) if quoting is not None else ""))
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.send_message(message, from_addr=envelope or sender)


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

    reply(mailin, message["Reply-To"], "REJECT changed my mind", quoting=message)  # the same address: used up
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    assert "already used" in bounce.get_body(("plain",)).get_content()
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).status == "completed"
        assert len(list(s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed")))) == 1


def test_reply_in_french_rejects(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    reply(mailin, message["Reply-To"].upper(), "REJETER Les dates chevauchent la vérification", quoting=message)
    with db.reading() as s:
        assert s.get(TaskRecord, task_id).status == "completed"
        [instance_outcome] = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "task_completed"))
    assert instance_outcome["decision"] == "reject"


def test_a_french_reader_s_answers_are_in_french(flows, engine, make_worker, smtp, mailin):
    """The recorded-reply email names the step in French; a refusal says why in French."""
    from engine.models import User

    db = flows
    with db.transaction() as s:
        s.scalars(select(User).where(User.username == "msmith")).one().language = "fr"
    task_id, message = notification(db, engine, make_worker, smtp)
    wants_a_comment = [("comment", "Explain the rejection.")]
    engine.glue.process("reminder_demo", validators={"forms/decision.schema.json": lambda d: wants_a_comment})
    try:
        reply(mailin, message["Reply-To"], "REJETER", quoting=message)
    finally:
        engine.glue.processes.pop("reminder_demo", None)
    reply(mailin, message["Reply-To"], "APPROUVER Bon voyage", quoting=message)
    make_worker().drain()
    answers = [m.get_body(("plain",)).get_content() for m in smtp.to("msmith@")[1:]]
    assert len(answers) == 2 and task_status(db, task_id) == "completed"
    refused, done = answers
    assert "ouvrez la tâche dans Waypoint pour voir quoi corriger" in refused and "Explain" not in refused
    assert "Examen par le superviseur" in done and "Supervisor review" not in done


def test_garbage_gets_a_polite_answer_and_changes_nothing(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    reply(mailin, message["Reply-To"], "Can we talk about this tomorrow?\n\nAPPROVE\n", quoting=message)
    assert task_status(db, task_id) == "ready"
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    text = bounce.get_body(("plain",)).get_content()
    assert "neither APPROVE nor REJECT" in text and f"/tasks/{task_id}" in text

    reply(mailin, message["Reply-To"], "APPROVE", quoting=message)  # the address still works after a bounce
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
        reply(mailin, message["Reply-To"], "REJECT", quoting=message)
    finally:
        engine.glue.processes.pop("reminder_demo", None)
    assert task_status(db, task_id) == "ready"
    make_worker().drain()
    [bounce] = [m for m in smtp.to("msmith@") if "not recorded" in str(m["Subject"])]
    assert "Explain the rejection." in bounce.get_body(("plain",)).get_content()


# --- who really sent it (issue 19 item 3) ---------------------------------------------------------
def completed_event(db) -> dict | None:
    with db.reading() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed")).first()
        return None if event is None else {"actor": event.actor, **event.details}


def refused(send) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(smtplib.SMTPDataError) as info:
        send()
    return info.value.smtp_code


def test_a_forged_from_with_a_foreign_envelope_is_refused(flows, engine, make_worker, smtp, mailin):
    """The outside probe's case 5: From: the approver, MAIL FROM: the attacker. It approved before."""
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    send = lambda: reply(  # noqa: E731
        mailin, message["Reply-To"], "APPROVE spoofed", quoting=message, envelope="attacker@evil.example"
    )
    assert refused(send) == 550
    assert task_status(db, task_id) == "ready" and completed_event(db) is None


def test_a_reply_nobody_vouches_for_is_refused(flows, engine, make_worker, smtp, mailin):
    """Right From and envelope, but no quoted reply code and no trusted MTA verdict: anyone who saw
    the reply address in a mail log could have written it."""
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    assert refused(lambda: reply(mailin, message["Reply-To"], "APPROVE")) == 550
    fake = "APPROVE\n\nreply code AAAAA-BBBBB"
    assert refused(lambda: reply(mailin, message["Reply-To"], fake)) == 550
    assert task_status(db, task_id) == "ready"


def test_the_quoted_reply_code_is_recorded_with_the_channel(flows, engine, make_worker, smtp, mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    assert re.search(r"reply code\s+[A-Z2-7]{5}-[A-Z2-7]{5}", message.get_body(("plain",)).get_content())
    reply(mailin, message["Reply-To"], "APPROVE ok", quoting=message)
    event = completed_event(db)
    assert event["actor"] == "msmith" and event["channel"] == "reply"
    assert event["sender"] == {
        "envelope": "msmith@waypoint.example",
        "from": "msmith@waypoint.example",
        "evidence": "reply code quoted",
    }


@pytest.fixture
def trusting_mailin(flows, engine, mail_config) -> Iterator[int]:
    port = free_port()
    config = replace(mail_config, trusted_authserv=("mx.waypoint.example",))
    controller = serve(flows, engine, "127.0.0.1", port, config)
    yield port
    controller.stop()


def test_a_trusted_mta_verdict_is_enough_and_nobody_else_s(flows, engine, make_worker, smtp, trusting_mailin):
    db = flows
    task_id, message = notification(db, engine, make_worker, smtp)
    forged = (("Authentication-Results", "mx.evil.example; dmarc=pass header.from=waypoint.example"),)
    assert refused(lambda: reply(trusting_mailin, message["Reply-To"], "APPROVE", top_headers=forged)) == 550
    failing = (("Authentication-Results", "mx.waypoint.example; dmarc=fail header.from=waypoint.example"),)
    assert refused(lambda: reply(trusting_mailin, message["Reply-To"], "APPROVE", top_headers=failing)) == 550
    unaligned = (("Authentication-Results", "mx.waypoint.example; dkim=pass header.d=evil.example"),)
    assert refused(lambda: reply(trusting_mailin, message["Reply-To"], "APPROVE", top_headers=unaligned)) == 550
    assert task_status(db, task_id) == "ready"
    vouched = (
        (
            "Authentication-Results",
            "mx.waypoint.example; spf=pass; dkim=pass header.d=waypoint.example; "
            "dmarc=pass (p=reject) header.from=waypoint.example",
        ),
    )
    reply(trusting_mailin, message["Reply-To"], "APPROVE from my phone", top_headers=vouched)
    event = completed_event(db)
    assert event["channel"] == "reply"
    assert event["sender"]["evidence"] == "dmarc=pass (mx.waypoint.example)"
