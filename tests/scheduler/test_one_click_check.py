"""One set of guards for an email link: `one_click.check` is what `decide` refuses with, and
the confirmation page (GET) asks the same check before showing anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import TaskAlreadyCompleted
from engine.mail.links import TokenUsed, mint, redeem, verify
from engine.models import User
from engine.one_click import NeedsTaskPage, check, decide
from tests.scheduler.conftest import SECRET, open_task, start
from web import create_app


@pytest.fixture
def app(flows, engine, tmp_path):
    return create_app(
        {"WAYPOINT_DB": flows, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "f")}
    )


def grant_for(db, clock, task_id: str, action: str = "approve", who: str = "msmith"):  # type: ignore[no-untyped-def]
    with db.reading() as s:
        uid = s.scalar(select(User.id).where(User.username == who))
    token = mint(SECRET, user_id=uid, task_id=task_id, action=action, now=clock.now(), ttl=timedelta(days=1))
    return token, verify(SECRET, token, clock.now())


def test_check_and_decide_refuse_alike(flows, engine, clock):
    db = flows
    task = open_task(db, start(db, engine))
    _, grant = grant_for(db, clock, task.id)
    with db.reading() as s:
        user, row, form = check(s, engine, grant, "approve")
        assert (user.username, row.id, form.decision_field) == ("msmith", task.id, "decision")
        with pytest.raises(NeedsTaskPage):
            check(s, engine, grant, "maybe")
    with db.transaction() as s:
        redeem(s, grant, clock.now())
    for guard in (check, decide):
        with db.transaction() as s, pytest.raises(TokenUsed):
            guard(s, engine, grant, "approve", *(("", clock.now()) if guard is decide else ()))

    _, fresh = grant_for(db, clock, task.id, "reject")
    with db.transaction() as s:
        decide(s, engine, fresh, "reject", "no", clock.now())
    _, late = grant_for(db, clock, task.id)
    for guard in (check, decide):
        with db.transaction() as s, pytest.raises(TaskAlreadyCompleted):
            guard(s, engine, late, "approve", *(("", clock.now()) if guard is decide else ()))


def test_the_confirmation_page_asks_one_click_check(app, flows, engine, clock, monkeypatch):
    import web.email_actions

    db = flows
    task = open_task(db, start(db, engine))
    token, _ = grant_for(db, clock, task.id)
    client = app.test_client()
    assert client.get(f"/email-actions/{token}").status_code == 200

    def needs_page(*args):  # type: ignore[no-untyped-def]
        raise NeedsTaskPage("needs_task_page", task="x")

    monkeypatch.setattr(web.email_actions, "check", needs_page)
    page = client.get(f"/email-actions/{token}")
    assert page.status_code == 409 and "needs more than a one-word decision" in page.text

    def closed(*args):  # type: ignore[no-untyped-def]
        raise TaskAlreadyCompleted.closed("x", "cancelled")

    monkeypatch.setattr(web.email_actions, "check", closed)
    page = client.get(f"/email-actions/{token}")
    assert page.status_code == 409 and "no longer waiting" in page.text
