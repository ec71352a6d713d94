"""Which member a screening task is for (issue 18 item 7): the inbox and the task page show each
parallel task's subject (the member's reference, "M2"), in both languages, never the member's name."""

from __future__ import annotations

import re

from tests.web.conftest import task_ids
from tests.workflows.test_delegation_visit import visit_request

NAMES = ("Hans Weber", "Petra Klein", "Omar Aziz")


def start_visit(app) -> int:  # type: ignore[no-untyped-def]
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "delegation_visit", visit_request(), "lokafor").id


def subjects(html: str) -> list[str]:
    return re.findall(r'<span class="badge task-subject">([^<]*)</span>', html)


def test_each_screening_task_says_which_member_in_the_queue_and_on_its_page(app, as_user):
    start_visit(app)
    security = as_user("sroy")
    queue = security.get("/inbox?tab=queue").text
    assert queue.count("Screen visitor") >= 3 and sorted(subjects(queue)) == ["M1", "M2", "M3"]
    assert not any(name in queue for name in NAMES)
    pages = [security.get(f"/tasks/{task_id}").text for task_id in task_ids(queue)]
    headings = sorted(re.search(r"<h1>(.*?)</h1>", page, re.S).group(1) for page in pages)  # type: ignore[union-attr]
    assert [subjects(h) for h in headings] == [["M1"], ["M2"], ["M3"]]
    assert all("Screen visitor" in h for h in headings)
    assert all("Screen visitor M" in re.search(r"<title>(.*?)</title>", p, re.S).group(1) for p in pages)  # type: ignore[union-attr]

    with security.client.session_transaction() as sess:
        sess["lang"] = "fr"
    french = security.get("/inbox?tab=queue").text
    assert french.count("Contrôler le visiteur") >= 3 and sorted(subjects(french)) == ["M1", "M2", "M3"]
    assert "Contrôler le visiteur M1</span>" in french  # the claim button's name says which one


def test_a_task_without_a_subject_shows_none(app, as_user):
    iid = start_visit(app)
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    security = as_user("sroy")
    for task_id in task_ids(security.get("/inbox?tab=queue").text):
        with db.transaction() as s:
            engine.complete(s, task_id, "sroy", {"screening_result": "cleared"})
    host = as_user("mgirard").get("/inbox?tab=queue").text
    assert f"#{iid}" in host and "Host unit approval" in host and subjects(host) == []
