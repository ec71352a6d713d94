"""A decision given from an email (a one-click link, a reply), or a withdrawn request, leaves no
draft of the task behind: the draft holds personal data typed on the task page, and the task is
done."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from engine import task_drafts
from engine.mail.links import mint, mint_reply, reply_code
from engine.mailin import MailIn
from engine.models import TaskDraft, TaskRecord
from engine.people.users import get_user
from tests.scheduler.conftest import REPLY_DOMAIN, SECRET, open_task
from web import create_app


@pytest.fixture
def drafted(flows, engine) -> tuple[str, int]:
    """Jane Doe's small approval, with Marc Smith's half-typed comment saved as a draft: (task id, his id)."""
    with flows.transaction() as s:
        instance = engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, "jdoe")
        instance_id = instance.id
    row = open_task(flows, instance_id)
    with flows.transaction() as s:
        row = s.get(TaskRecord, row.id)
        msmith = get_user(s, "msmith")
        parsed = engine.definition_for(s, row.instance)
        schema = parsed.form(row.form)
        now = engine.clock.now()
        task_drafts.save(s, row, msmith, {"comment": "Mrs Doe's passport"}, now, schema, engine.vault, parsed.personal)
        return row.id, msmith.id


def drafts(db, task_id: str) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(TaskDraft).where(TaskDraft.task_id == task_id))


def status(db, task_id: str) -> str:
    with db.reading() as s:
        return s.get(TaskRecord, task_id).status


def test_an_email_link_decision_leaves_no_draft(flows, engine, mail_config, drafted, tmp_path):
    task_id, msmith = drafted
    assert drafts(flows, task_id) == 1
    app = create_app(
        {"WAYPOINT_DB": flows, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "f")}
    )
    token = mint(SECRET, user_id=msmith, task_id=task_id, action="approve", now=engine.clock.now(), ttl=timedelta(1))
    done = app.test_client().post(f"/email-actions/{token}", data={"comment": "Agreed"})
    assert done.status_code == 200, done.text
    assert (status(flows, task_id), drafts(flows, task_id)) == ("completed", 0)


def test_a_reply_decision_leaves_no_draft(flows, engine, mail_config, drafted):
    task_id, msmith = drafted
    local = mint_reply(SECRET, user_id=msmith, task_id=task_id, now=engine.clock.now(), ttl=timedelta(1))
    message = EmailMessage()
    message["From"] = "Marc Smith <msmith@waypoint.example>"
    message["To"] = f"{local}@{REPLY_DOMAIN}"
    message["Subject"] = "Re: [Waypoint] New task"
    # the approver's mailbox alone received the notification's reply code; the reply quotes it
    message.set_content(f"APPROVE fine by me\n\n> Your reply code {reply_code(SECRET, local)}")
    outcome = MailIn(flows, engine, mail_config).receive(
        "msmith@waypoint.example", [f"{local}@{REPLY_DOMAIN}"], message.as_bytes()
    )
    assert outcome.action == "recorded", outcome
    assert (status(flows, task_id), drafts(flows, task_id)) == ("completed", 0)


def test_a_withdrawn_request_leaves_no_draft_of_its_open_task(flows, engine, drafted):
    """The task closes with its request (cancelled, never completed): its drafts go in the same write."""
    task_id, _ = drafted
    with flows.reading() as s:
        instance_id = s.get(TaskRecord, task_id).instance_id
    with flows.transaction() as s:
        engine.cancel(s, instance_id, "jdoe", "no longer travelling")
    assert (status(flows, task_id), drafts(flows, task_id)) == ("cancelled", 0)
