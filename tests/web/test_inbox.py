"""The inbox pages: tabs and counts, filters, claim/release, the task page, bulk approval."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import task_ids


def start(app, user="jdoe", title="Laptop", amount=1000):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": title, "amount": amount}, user).id


def count(page_text: str, tab_label: str) -> int:
    match = re.search(rf">{tab_label} <span class=\"count\">(\d+)</span>", page_text)
    assert match, tab_label
    return int(match.group(1))


def test_my_tasks_and_counts(app, as_user):
    for n in range(3):
        start(app, title=f"Laptop {n}")
    queued = start(app, user="dlee", title="Queue item")  # dlee has no manager: supervisors' queue
    msmith = as_user("msmith")
    page = msmith.get("/inbox")
    assert page.status_code == 200
    assert (count(page.text, "My tasks"), count(page.text, "Team queue")) == (3, 1)
    assert len(task_ids(page.text)) == 3
    assert "Jane Doe" in page.text and "Supervisor review" in page.text
    queue = msmith.get("/inbox?tab=queue")
    assert f"#{queued} Diane Lee — Queue item" in queue.text and "Claim" in queue.text
    # dlee started the queue item: it is not in her own queue (no self-approval)
    assert count(as_user("dlee").get("/inbox").text, "Team queue") == 0


def test_filters_search_sort_and_pages(app, as_user, clock):
    for n in range(30):
        start(app, title=f"Item {n:02d}")
        clock.advance(minutes=1)
    msmith = as_user("msmith")
    first = msmith.get("/inbox?per_page=10&sort=age")
    assert "30 items" in first.text and "Page 1 of 3" in first.text
    assert first.text.index("Item 00") < first.text.index("Item 09")
    newest = msmith.get("/inbox?per_page=10&sort=-age")
    assert "Item 29" in newest.text and "Item 00" not in newest.text
    third = msmith.get("/inbox?per_page=10&sort=age&page=3")
    assert "Item 29" in third.text and 'rel="next"' not in third.text
    found = msmith.get("/inbox?q=item%2007")
    assert "1 item" in found.text and "Item 07" in found.text
    assert "0 items" in msmith.get("/inbox?process=conference_attendance").text
    assert "30 items" in msmith.get("/inbox?step=Supervisor+review&per_page=100").text
    assert "0 items" in msmith.get("/inbox?overdue=1").text
    clock.advance(days=3)
    overdue = msmith.get("/inbox?tab=overdue&per_page=5")
    assert count(overdue.text, "Overdue") == 30 and "badge overdue" in overdue.text


def test_counts_stop_at_the_cap_and_paging_goes_on(app, as_user, clock, monkeypatch):
    monkeypatch.setattr("engine.queries.inbox.COUNT_CAP", 12)  # as if a queue held more than 1,000 tasks
    for n in range(30):
        start(app, title=f"Item {n:02d}")
        clock.advance(minutes=1)
    msmith = as_user("msmith")
    first = msmith.get("/inbox?per_page=10&sort=age")
    assert '>My tasks <span class="count">12+</span>' in first.text
    assert "At least 12 items" in first.text and "Page 1<" in first.text  # of how many pages: not counted
    third = msmith.get("/inbox?per_page=10&sort=age&page=3")  # past what was counted: still there
    assert "Item 29" in third.text and "Page 3<" in third.text and 'rel="next"' not in third.text
    second = msmith.get("/inbox?per_page=10&sort=age&page=2")
    assert "Item 19" in second.text and 'rel="next"' in second.text and 'rel="prev"' in second.text
    found = msmith.get("/inbox?q=item%2007")  # a filtered total below the cap is exact
    assert "1 item" in found.text


def test_bad_query_values_are_clamped(app, as_user):
    page = as_user("msmith").get("/inbox?page=-4&per_page=100000&sort=drop&tab=nope")
    assert page.status_code == 200 and "My tasks" in page.text


def test_claim_release_from_queue(app, as_user):
    iid = start(app, user="dlee")
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox?tab=queue").text)
    done = msmith.post(f"/tasks/{task_id}/claim", {"next": "/inbox?tab=queue"})
    assert done.headers["Location"] == "/inbox?tab=queue"
    assert task_ids(msmith.get("/inbox").text) == [task_id]
    page = msmith.get(f"/tasks/{task_id}")
    assert 'id="release"' in page.text
    msmith.post(f"/tasks/{task_id}/release")
    assert task_ids(msmith.get("/inbox?tab=queue").text) == [task_id]
    assert iid


def test_task_page_complete_with_validation_and_conflict(app, as_user):
    iid = start(app, title="<script>alert(1)</script>")
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox").text)
    page = msmith.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert 'value="approve"' in page.text and 'value="reject"' in page.text
    bad = msmith.post(f"/tasks/{task_id}", {"decision": "maybe", "comment": "keep me"})
    assert bad.status_code == 400
    assert 'id="f-decision-error"' in bad.text and "keep me" in bad.text
    ok = msmith.post(f"/tasks/{task_id}", {"decision": "approve", "comment": "fine"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/inbox"
    again = msmith.post(f"/tasks/{task_id}", {"decision": "approve"})
    assert again.status_code == 409
    assert "already completed by Marc Smith" in again.text and f"/requests/{iid}" in again.text


def test_stale_form_is_a_conflict(app, as_user):
    start(app)
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox").text)
    version = re.search(r'name="version" value="(\d+)"', msmith.get(f"/tasks/{task_id}").text).group(1)
    stale = msmith.post(f"/tasks/{task_id}", {"decision": "approve", "version": str(int(version) - 1)})
    assert stale.status_code == 409 and "changed since you opened it" in stale.text


def test_save_draft_keeps_values(app, as_user):
    start(app)
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox").text)
    saved = msmith.post(f"/tasks/{task_id}", {"action": "draft", "comment": "half a thought"})
    assert saved.status_code == 302
    page = msmith.get(f"/tasks/{task_id}")
    assert "half a thought" in page.text and "Draft saved" in page.text


def test_bulk_approval_is_offered_where_it_works(app, as_user):
    start(app)
    inbox = as_user("msmith").get("/inbox").text
    assert 'id="bulk-approve"' in inbox and '<span class="badge">open to decide' not in inbox


def test_bulk_approve(app, as_user):
    for n in range(5):
        start(app, title=f"Bulk {n}")
    msmith = as_user("msmith")
    ids = task_ids(msmith.get("/inbox").text)
    assert len(ids) == 5
    result = msmith.post("/inbox/bulk", {"task_ids": ids, "comment": "all fine"})
    assert result.status_code == 200 and "5 of 5 approved" in result.text
    assert task_ids(msmith.get("/inbox").text) == []
    db = app.extensions["waypoint.db"]
    from engine.models import AuditEvent

    with db.reading() as s:
        comments = [e.details.get("comment") for e in s.query(AuditEvent).filter_by(action="task_completed")]
    assert comments == ["all fine"] * 5


def test_bulk_reports_per_task(app, as_user):
    start(app, title="A"), start(app, title="B")
    msmith = as_user("msmith")
    ids = task_ids(msmith.get("/inbox").text)
    msmith.post(f"/tasks/{ids[0]}", {"decision": "reject"})  # completed before the bulk action
    result = msmith.post("/inbox/bulk", {"task_ids": ids})
    assert "1 of 2 approved" in result.text and "already completed" in result.text


def test_bulk_refuses_tasks_of_different_steps(app, as_user, clock):
    engine, db = app.extensions["waypoint.engine"], app.extensions["waypoint.db"]
    start(app, user="admin", title="Escalates")  # admin has no manager: supervisors' queue
    clock.advance(days=3, seconds=1)
    with db.transaction() as s:
        [timer] = engine.due_timers(s)
        assert engine.fire_timer(s, timer.id)  # now an "Escalated review" for senior management
    start(app, user="admin", title="Fresh")
    dlee = as_user("dlee")  # both a supervisor and senior management
    ids = task_ids(dlee.get("/inbox?tab=queue").text)
    assert len(ids) == 2
    refused = dlee.post("/inbox/bulk", {"task_ids": ids, "next": "/inbox?tab=queue"})
    assert refused.status_code == 302
    assert "one and the same step" in dlee.get("/inbox?tab=queue").text
    assert len(task_ids(dlee.get("/inbox?tab=queue").text)) == 2  # nothing was approved


@pytest.mark.parametrize(
    ("who", "view", "claimed", "complete"),
    [
        ("msmith", 200, True, 302),  # the assignee (jdoe's manager)
        ("sup2", 404, False, 404),  # another supervisor: the task is assigned to msmith, not queued
        ("fchan", 404, False, 404),  # another role
        ("jdoe", 200, False, 403),  # the requester: sees the request, cannot approve it
    ],
)
def test_permission_matrix(app, as_user, engine, who, view, claimed, complete):
    from engine.models import TaskRecord
    from engine.people.users import add_user

    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        add_user(s, "sup2", now=engine.clock.now(), roles=["supervisor"])
    start(app)
    [task_id] = task_ids(as_user("msmith").get("/inbox").text)
    browser = as_user(who)
    assert browser.get(f"/tasks/{task_id}").status_code == view
    browser.post(f"/tasks/{task_id}/claim")
    with db.reading() as s:
        assert (s.get(TaskRecord, task_id).claimed_by_id is not None) is claimed
    assert browser.post(f"/tasks/{task_id}", {"decision": "approve"}).status_code == complete
    with db.reading() as s:
        assert (s.get(TaskRecord, task_id).status == "completed") is (complete == 302)


def test_anonymous_is_sent_to_sign_in(app, as_user):
    start(app)
    [task_id] = task_ids(as_user("msmith").get("/inbox").text)
    anonymous = app.test_client()
    for url in (f"/tasks/{task_id}", "/inbox", "/requests/new", "/requests/1"):
        page = anonymous.get(url)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login"), url
    assert anonymous.post(f"/tasks/{task_id}/claim").status_code == 400  # no CSRF token: refused first


def test_overdue_is_announced_in_words(app, as_user, clock):
    start(app)
    clock.advance(days=2, hours=1)
    page = as_user("msmith").get("/inbox")
    assert ">Overdue</span>" in page.text


def test_the_task_page_shows_the_buttons_the_engine_allows(app, as_user, engine):
    from engine.people.users import add_user

    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        add_user(s, "sup2", now=engine.clock.now(), roles=["supervisor"])
    start(app, user="dlee")  # the supervisors' queue
    msmith, cgagnon, admin = as_user("msmith"), as_user("cgagnon"), as_user("admin")
    [task_id] = task_ids(msmith.get("/inbox?tab=queue").text)

    def buttons(browser) -> set[str]:
        page = browser.get(f"/tasks/{task_id}").text
        found = {"claim": 'id="claim"', "release": 'id="release"', "reassign": 'id="reassign-form"'}
        return {name for name, marker in found.items() if marker in page}

    assert buttons(msmith) == {"claim"}  # a supervisor: may take it, not reassign it
    assert buttons(cgagnon) == {"reassign"}  # the ITV coordinator: may reassign, has not the role
    targets = re.findall(r'<option value="(\w+)">', cgagnon.get(f"/tasks/{task_id}").text)
    assert targets == ["__queue__", "msmith", "sup2"]  # the supervisors the engine accepts: not dlee, her request
    msmith.post(f"/tasks/{task_id}/claim")
    assert buttons(msmith) == {"release"}
    assert buttons(admin) == {"release", "reassign"}  # the engine lets an admin release anyone's claim
    refused = as_user("sup2").post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert "Marc Smith is working on" in refused.text  # the engine's answer, as through the API
    assert as_user("sup2").get(f"/tasks/{task_id}").status_code == 404  # reading stays as it was


def test_the_task_page_asks_the_engine_and_nothing_else(app, as_user, engine, monkeypatch):
    from engine import Engine, PermissionDenied

    start(app, user="dlee")
    cgagnon = as_user("cgagnon")
    [task_id] = task_ids(as_user("msmith").get("/inbox?tab=queue").text)
    monkeypatch.setattr(Engine, "may_claim", lambda self, s, actor, row: None)
    monkeypatch.setattr(Engine, "may_reassign", lambda self, s, actor, row: PermissionDenied("reassign_forbidden"))
    page = cgagnon.get(f"/tasks/{task_id}").text
    assert 'id="claim"' in page and 'id="reassign-form"' not in page


def test_completing_on_the_page_or_in_bulk_leaves_no_draft(app, as_user):
    from sqlalchemy import func, select

    from engine.models import TaskDraft

    db = app.extensions["waypoint.db"]
    start(app, title="On the page"), start(app, title="In bulk")
    msmith = as_user("msmith")
    page_task, bulk_task = task_ids(msmith.get("/inbox?sort=age").text)
    for task_id in (page_task, bulk_task):
        msmith.post(f"/tasks/{task_id}", {"action": "draft", "comment": "half a thought"})
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(TaskDraft)) == 2
    assert msmith.post(f"/tasks/{page_task}", {"decision": "approve"}).status_code == 302
    assert "1 of 1 approved" in msmith.post("/inbox/bulk", {"task_ids": [bulk_task]}).text
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(TaskDraft)) == 0


def _small_with_review(tmp_path, engine, db, review: dict) -> None:
    """Deploy a new version of small_approval whose review form is `review`."""
    import json
    import shutil

    from tests.conftest import FIXTURES

    folder = tmp_path / "small_v2"
    shutil.copytree(FIXTURES / "small", folder)
    (folder / "forms" / "review.schema.json").write_text(json.dumps(review))
    with db.transaction() as s:
        engine.deploy(s, [folder])


@pytest.mark.parametrize(
    ("review", "message"),
    [
        (  # a decision without an "approve" choice: nothing to give in one click
            {"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["confirm", "reject"]}}},
            "this step has no approve decision",
        ),
        (  # approve, but another field is required: open the task
            {
                "type": "object",
                "required": ["decision", "cost_centre"],
                "properties": {
                    "decision": {"enum": ["approve", "reject"]},
                    "cost_centre": {"type": "string", "title": "Cost centre"},
                },
            },
            "needs more than an approval: Cost centre",  # by its title, never the internal key
        ),
    ],
)
def test_bulk_approval_follows_the_one_click_rule_of_emails(app, as_user, engine, tmp_path, review, message):
    from engine.forms import decision_form

    db = app.extensions["waypoint.db"]
    _small_with_review(tmp_path, engine, db, review)
    start(app)
    msmith = as_user("msmith")
    inbox = msmith.get("/inbox").text
    [task_id] = task_ids(inbox)
    assert not decision_form(review).allows("approve")  # no email link either
    assert 'id="bulk-approve"' not in inbox and '<span class="badge">open to decide' in inbox
    result = msmith.post("/inbox/bulk", {"task_ids": [task_id], "comment": "fine"})
    assert "0 of 1 approved" in result.text and message in result.text
    assert task_ids(msmith.get("/inbox").text) == [task_id]
