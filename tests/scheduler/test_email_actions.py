"""Signed one-click links: confirm on GET, act once on POST; expiry, replay, tampering and wrong users refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.forms import decision_form
from engine.mail.links import TokenExpired, TokenRejected, TokenUsed, mint, mint_reply, redeem, verify, verify_reply
from engine.models import AuditEvent, TaskRecord, UsedToken, User
from tests.conftest import ROOT
from tests.scheduler.conftest import SECRET, open_task, outbox_rows, start
from web import create_app

NOW = datetime(2026, 11, 2, 14, tzinfo=UTC)


# --- tokens ----------------------------------------------------------------------------------------
def test_link_tokens_are_signed_and_expire():
    token = mint(SECRET, user_id=7, task_id="t-1", action="approve", now=NOW, ttl=timedelta(days=7))
    grant = verify(SECRET, token, NOW + timedelta(days=6))
    assert (grant.user_id, grant.task_id, grant.action) == (7, "t-1", "approve")
    with pytest.raises(TokenExpired):
        verify(SECRET, token, NOW + timedelta(days=7))
    with pytest.raises(TokenRejected):
        verify("another secret", token, NOW)
    payload, signature = token.rsplit(".", 1)
    with pytest.raises(TokenRejected):
        verify(SECRET, payload + "." + signature[::-1], NOW)
    with pytest.raises(TokenRejected):
        verify(SECRET, "garbage", NOW)
    other = mint(SECRET, user_id=7, task_id="t-1", action="approve", now=NOW, ttl=timedelta(days=7))
    assert verify(SECRET, other, NOW).jti != grant.jti  # two links, two single uses


def test_reply_tokens_fit_an_address_and_survive_case_folding():
    task = "0b7e1d2c-5a8f-4c11-9d6e-3f2a1b0c9d8e"
    local = mint_reply(SECRET, user_id=42, task_id=task, now=NOW, ttl=timedelta(days=7))
    assert len(local) <= 64 and local == local.lower() and local.startswith("r-")
    grant = verify_reply(SECRET, local.upper(), NOW)
    assert (grant.user_id, grant.task_id, grant.action) == (42, task, "reply")
    assert verify_reply(SECRET, local, NOW).jti == grant.jti
    with pytest.raises(TokenExpired):
        verify_reply(SECRET, local, NOW + timedelta(days=8))
    tampered = local[:-3] + ("a" if local[-3] != "a" else "b") + local[-2:]
    for bad in (tampered, "r-" + "a" * 56, "postmaster", local[:-1]):
        with pytest.raises(TokenRejected):
            verify_reply(SECRET, bad, NOW)


def test_a_token_is_redeemed_once(db, people):
    with db.reading() as s:
        uid = s.scalar(select(User.id).where(User.username == "msmith"))
    grant = verify(SECRET, mint(SECRET, user_id=uid, task_id=None, action="approve", now=NOW, ttl=timedelta(1)), NOW)
    with db.transaction() as s:
        redeem(s, grant, NOW)
    with pytest.raises(TokenUsed):
        with db.transaction() as s:
            redeem(s, grant, NOW)


def test_decision_forms_of_the_real_processes():
    import json

    def form(name):
        return decision_form(json.loads((ROOT / "bpmn" / "forms" / f"{name}.schema.json").read_text()))

    supervisor = form("conference_supervisor_review")
    assert (supervisor.decision_field, supervisor.comment_field) == ("supervisor_decision", "supervisor_comment")
    assert supervisor.allows("approve") and supervisor.allows("reject")
    finance = form("conference_finance_review")
    assert not finance.allows("approve") and finance.allows("reject")  # funds are "confirmed", with a cost centre
    assert form("delegation_host_unit_approval").comment_field == "host_unit_comment"
    assert form("conference_request") is None


# --- the confirmation pages ----------------------------------------------------------------------------
@pytest.fixture
def app(flows, engine, tmp_path):
    return create_app(
        {"WAYPOINT_DB": flows, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "f")}
    )


def link(db, verb: str, task_id: str, recipient: str = "msmith") -> str:
    [row] = [r for r in outbox_rows(db, task_id=task_id) if r.recipient.startswith(recipient + "@")]
    return re.search(rf"{verb.capitalize()}: http://waypoint.test(/email-actions/\S+)", row.body_text)[1]


def used_tokens(db) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(UsedToken))


def test_get_confirms_post_decides_once(app, flows, engine):
    db = flows
    iid = start(db, engine)
    task = open_task(db, iid)
    client = app.test_client()
    url = link(db, "approve", task.id)

    page = client.get(url)
    assert page.status_code == 200 and "Confirm your decision" in page.text and "Marc Smith" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert open_task(db, iid).id == task.id and used_tokens(db) == 0  # a GET changes nothing

    done = client.post(url, data={"comment": "Agreed, enjoy Lyon"})
    assert done.status_code == 200 and "Decision recorded" in done.text
    with db.reading() as s:
        row = s.get(TaskRecord, task.id)
        assert (row.status, row.completed_by.username) == ("completed", "msmith")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed")).one()
        assert event.details["decision"] == "approve" and event.details["comment"] == "Agreed, enjoy Lyon"
        assert event.details["channel"] == "email_link"  # the audit tells a link from a reply or the web

    replay = client.post(url, data={"comment": "again"})
    assert replay.status_code == 409 and "already used" in replay.text
    assert client.get(url).status_code == 409
    reject = client.post(link(db, "reject", task.id))  # the other link of the same email: the task is done
    assert reject.status_code == 409 and "no longer waiting" in reject.text


def test_expired_tampered_and_foreign_links_are_refused(app, flows, engine, clock, mail_config):
    db = flows
    iid = start(db, engine)
    task = open_task(db, iid)
    client = app.test_client()
    url = link(db, "reject", task.id)

    tampered = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    assert client.get(tampered).status_code == 404 and client.post(tampered).status_code == 404

    with db.reading() as s:
        fchan = s.scalar(select(User.id).where(User.username == "fchan"))
    foreign = mint(SECRET, user_id=fchan, task_id=task.id, action="approve", now=clock.now(), ttl=timedelta(days=1))
    refused = client.post(f"/email-actions/{foreign}")
    assert refused.status_code == 403 and "assigned to Marc Smith" in refused.text
    assert used_tokens(db) == 0  # a refused attempt does not use the link up

    clock.advance(days=7, seconds=1)
    expired = client.post(url)
    assert expired.status_code == 410 and "expired" in expired.text
    assert open_task(db, iid).status == "ready"


def test_a_link_sent_before_an_escalation_no_longer_works_for_the_old_assignee(app, flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine)
    url = link(db, "approve", open_task(db, iid).id)
    clock.advance(days=4, seconds=1)
    make_worker().drain()  # escalated and reassigned to dlee
    refused = app.test_client().post(url)
    assert refused.status_code == 403 and "assigned to Diane Lee" in refused.text


def test_forms_needing_more_than_a_decision_send_people_to_the_task_page(app, flows, engine, clock):
    db = flows
    iid = start(db, engine, key="timer_race")  # a form with a required note and no decision
    task = open_task(db, iid)
    [new] = outbox_rows(db, "new_task")
    assert "/email-actions/" not in new.body_text and new.reply_to is None
    with db.reading() as s:
        uid = s.scalar(select(User.id).where(User.username == "msmith"))
    token = mint(SECRET, user_id=uid, task_id=task.id, action="approve", now=clock.now(), ttl=timedelta(days=1))
    page = app.test_client().get(f"/email-actions/{token}")
    assert page.status_code == 409 and "needs more than a one-word decision" in page.text
    assert f'href="http://waypoint.test/tasks/{task.id}"' in page.text


def test_pages_speak_the_recipients_language(app, flows, engine):
    db = flows
    iid = start(db, engine)
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid).id, "msmith", {"decision": "approve"})
    check = open_task(db, iid)  # the ITV queue: cgagnon, in French
    [new] = outbox_rows(db, "new_task", task_id=check.id)
    url = re.search(r"Approuver : http://waypoint.test(/email-actions/\S+)", new.body_text)[1]
    page = app.test_client().get(url)
    assert "Confirmez votre décision" in page.text and "Chantal Gagnon" in page.text
    assert "Décision enregistrée" in app.test_client().post(url).text


def test_digest_opt_out_link(app, flows, engine, clock):
    db = flows
    with db.reading() as s:
        uid = s.scalar(select(User.id).where(User.username == "msmith"))
    token = mint(SECRET, user_id=uid, task_id=None, action="digest_off", now=clock.now(), ttl=timedelta(days=30))
    client = app.test_client()
    assert "Stop the daily summary" in client.get(f"/email-actions/{token}").text
    with db.reading() as s:
        assert s.get(User, uid).digest_opt_out is False
    assert "no longer receive" in client.post(f"/email-actions/{token}").text
    with db.reading() as s:
        assert s.get(User, uid).digest_opt_out is True


def test_outbox_page_is_for_admins_and_shows_no_links(app, flows, engine):
    db = flows
    start(db, engine)
    client = app.test_client()
    assert client.get("/admin/outbox").status_code == 302  # to the sign-in page

    def signed_in(username: str):
        with db.reading() as s:
            uid = s.scalar(select(User.id).where(User.username == username))
        browser = app.test_client()
        with browser.session_transaction() as session:
            session["uid"] = uid
        return browser

    assert signed_in("jdoe").get("/admin/outbox").status_code == 403
    page = signed_in("admin").get("/admin/outbox")
    assert (
        page.status_code == 200
        and "New task: Supervisor review" in page.text
        and "msmith@waypoint.example" in page.text
    )
    assert "/email-actions/" not in page.text


def test_reject_page_says_the_comment_it_requires(app, flows, engine):
    """The conference's supervisor must explain a rejection: the reject page labels the comment box
    required and the approve page optional, the way the POST then treats them."""
    from tests.conftest import ROOT
    from tests.workflows.test_forms import CONFERENCE

    db = flows
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    with db.transaction() as s:
        iid = engine.start(s, "conference_attendance", CONFERENCE, "jdoe").id
    task = open_task(db, iid)
    client = app.test_client()

    reject_page = client.get(link(db, "reject", task.id)).text
    assert "Comment (required)" in reject_page and "Comment (optional)" not in reject_page
    assert re.search(r"<textarea[^>]*\brequired\b", reject_page)
    approve_page = client.get(link(db, "approve", task.id)).text
    assert "Comment (optional)" in approve_page and not re.search(r"<textarea[^>]*\brequired\b", approve_page)

    refused = client.post(link(db, "reject", task.id), data={"comment": "  "})
    assert refused.status_code == 400 and "Comment (required)" in refused.text
    assert open_task(db, task.instance_id).id == task.id
