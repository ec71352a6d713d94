"""The daily digest reads a fixed number of statements, and lists what a row-by-row reading would.

`send_digests` counts the open tasks in one grouped query and reads only the first rows of each
holder's and each queue's list; these tests check it against the plain reading (every open task,
oldest first, to its holder or to each member of its role's queue but a barred requester) with a
small DIGEST_LIMIT, so that the cut and a queue member's own requests both matter.
"""

from __future__ import annotations

import re

from sqlalchemy import event, select

from engine.models import ProcessInstance, TaskRecord, User, UserRole
from engine.permissions import bars_requester
from engine.worker import digest
from tests.scheduler.conftest import open_task, outbox_rows, start

STARTERS = ("jdoe", "rmartin", "fchan", "ebrown", "cgagnon", "ppatel")  # -> msmith, dlee, cgagnon reviews


def start_requests(db, engine, clock, rounds: int) -> None:
    """Each starter files `rounds` requests; each round's jdoe and rmartin requests go on to the ITV queue."""
    for _ in range(rounds):
        ids = {user: start(db, engine, user=user) for user in STARTERS}
        clock.advance(minutes=5)
        for user, approver in (("cgagnon", "dlee"), ("jdoe", "msmith"), ("rmartin", "msmith")):
            with db.transaction() as s:
                engine.complete(s, open_task(db, ids[user]).id, approver, {"decision": "approve"})
            clock.advance(minutes=5)


def digest_statements(db, engine, now) -> tuple[int, list[str]]:
    """Digests queued, and every statement but the outbox inserts (one per digest), in a rolled-back run."""
    seen: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.startswith("INSERT INTO outbox"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.reading() as s:
            sent = digest.send_digests(s, engine.mail, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return sent, seen


def test_digest_statements_do_not_grow_with_tasks_or_people(flows, engine, clock):
    db = flows
    start_requests(db, engine, clock, rounds=1)
    few, small = digest_statements(db, engine, clock.now())
    start_requests(db, engine, clock, rounds=3)
    many, large = digest_statements(db, engine, clock.now())
    assert few == many >= 3  # msmith, dlee and the ITV queue's cgagnon
    assert len(large) == len(small) <= 12, large


def reference_lists(db, limit: int) -> dict[str, tuple[int, list[str]]]:
    """The plain reading: each person's (total, first `limit` task ids), oldest first."""
    with db.reading() as s:
        people = {u.id: u for u in s.scalars(select(User).where(User.active.is_(True))) if u.email}
        rows = s.execute(
            select(TaskRecord, ProcessInstance.started_by_id)
            .join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
            .where(TaskRecord.status == "ready")
            .order_by(TaskRecord.created_at, TaskRecord.id)
        ).all()
        lists: dict[str, tuple[int, list[str]]] = {}
        for task, starter in rows:
            holder = task.claimed_by_id or task.assignee_id
            owners = [holder] if holder else [u for u in people if task.role in people[u].roles]
            for user_id in owners:
                if holder is None and bars_requester(task) and user_id == starter:
                    continue
                total, ids = lists.get(people[user_id].email or "", (0, []))
                lists[people[user_id].email or ""] = (total + 1, ids + [task.id] if len(ids) < limit else ids)
    return lists


def test_digest_lists_what_a_row_by_row_reading_lists(flows, engine, clock, monkeypatch):
    db = flows
    start_requests(db, engine, clock, rounds=4)
    with db.transaction() as s:  # jdoe joins the ITV queue, where her own requests' checks wait too
        s.add(UserRole(user_id=s.scalar(select(User.id).where(User.username == "jdoe")), role="itv_coordinator"))
    monkeypatch.setattr(digest, "DIGEST_LIMIT", 3)
    expected = reference_lists(db, 3)
    with db.transaction() as s:
        digest.send_digests(s, engine.mail, clock.now())
    got = {
        row.recipient: (
            int(re.search(r"\] (\d+) t", row.subject).group(1)),
            re.findall(r"/tasks/([\w-]+)", row.body_text),
        )
        for row in outbox_rows(db, "digest")
    }
    assert got == expected
    # the ITV queue holds jdoe's and rmartin's checks (cgagnon's own went to the admins): jdoe may take rmartin's
    # only; cgagnon all eight, and ppatel's four reviews
    assert got["jdoe@waypoint.example"][0] == 4 and got["cgagnon@waypoint.example"][0] == 8 + 4
