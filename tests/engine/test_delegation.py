"""Out-of-office delegation, reassignment, withdrawal and report facets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import InvalidState, PermissionDenied, ValidationFailed
from engine.models import ProcessInstance
from engine.people.delegation import delegate, delegations_of, revoke
from engine.people.users import get_user
from engine.queries.inbox import InboxQuery, inbox_page
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES, ROOT


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    return people


def start(db, engine, user="jdoe"):
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": "Laptop", "amount": 10}, user).id


def open_task(db, iid):
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)
        return task.id


def test_delegate_sees_and_completes_on_behalf_then_it_ends(deployed, engine, clock):
    db = deployed
    iid = start(db, engine)  # Supervisor review assigned to msmith
    today = engine.today()
    with db.transaction() as s:
        delegate(s, get_user(s, "msmith"), "dlee", today, today + timedelta(days=2), "leave", clock.now())
    with db.reading() as s:
        page = inbox_page(s, get_user(s, "dlee"), InboxQuery(tab="mine"), clock.now())
        assert [r.instance_id for r in page.rows] == [iid]
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid), "dlee", {"decision": "reject"})
    with db.reading() as s:
        completed = [e for e in instance_view(s, iid)["audit"] if e["action"] == "task_completed"]
        assert completed[0]["actor"] == "dlee" and completed[0]["details"]["on_behalf_of"] == "msmith"

    later = start(db, engine)
    clock.advance(days=3)  # the delegation is over
    with db.reading() as s:
        assert inbox_page(s, get_user(s, "dlee"), InboxQuery(tab="mine"), clock.now()).rows == []
    with pytest.raises(PermissionDenied):
        with db.transaction() as s:
            engine.complete(s, open_task(db, later), "dlee", {"decision": "approve"})


def test_delegation_never_allows_self_approval(deployed, engine, clock):
    db = deployed
    iid = start(db, engine, user="rmartin")  # msmith reviews rmartin's request
    today = engine.today()
    with db.transaction() as s:
        delegate(s, get_user(s, "msmith"), "rmartin", today, today, "", clock.now())
    with pytest.raises(PermissionDenied, match="you started this request"):
        with db.transaction() as s:
            engine.complete(s, open_task(db, iid), "rmartin", {"decision": "approve"})
    with db.reading() as s:
        assert inbox_page(s, get_user(s, "rmartin"), InboxQuery(tab="mine"), clock.now()).rows == []


def test_delegation_validation_and_revoke(deployed, engine, clock):
    db = deployed
    today = engine.today()
    with db.transaction() as s:
        me = get_user(s, "msmith")
        with pytest.raises(ValidationFailed):
            delegate(s, me, "msmith", today, today, "", clock.now())
        with pytest.raises(ValidationFailed):
            delegate(s, me, "dlee", today, today - timedelta(days=1), "", clock.now())
        row = delegate(s, me, "dlee", today, today + timedelta(days=5), "", clock.now())
        with pytest.raises(PermissionDenied):
            revoke(s, row.id, get_user(s, "jdoe"), clock.now())
        revoke(s, row.id, me, clock.now())
        assert delegations_of(s, me, today) == ([], [])


def test_reassign_to_person_and_back_to_queue(deployed, engine):
    db = deployed
    iid = start(db, engine)
    task_id = open_task(db, iid)
    with pytest.raises(PermissionDenied):  # a colleague who neither administers nor manages msmith
        with db.transaction() as s:
            engine.reassign(s, task_id, "fchan", "dlee", "busy")
    with pytest.raises(ValidationFailed):
        with db.transaction() as s:
            engine.reassign(s, task_id, "dlee", None, " ")
    with pytest.raises(PermissionDenied, match="does not have the role"):
        with db.transaction() as s:
            engine.reassign(s, task_id, "dlee", "fchan", "finance knows")
    with db.transaction() as s:  # dlee manages msmith
        engine.reassign(s, task_id, "dlee", "dlee", "msmith is away")
    with db.transaction() as s:
        engine.reassign(s, task_id, "admin", None, "back to the pool")
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=iid)
        assert (task.assignee_id, task.claimed_by_id) == (None, None)
        moves = [e["details"] for e in instance_view(s, iid)["audit"] if e["action"] == "task_reassigned"]
    assert moves == [
        {"from": "msmith", "to": "dlee", "reason": "msmith is away"},
        {"from": "dlee", "to": None, "reason": "back to the pool"},
    ]


def test_withdraw_only_until_approved(people, engine, clock):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        iid = engine.start(
            s,
            "passport_visa",
            {
                "traveller_name": "Jane Doe",
                "trip_start_date": "2026-12-04",
                "trip_end_date": "2026-12-07",
                "destinations": ["France"],
                "travel_purpose": "Meeting",
                "passport_type": "official",
                "current_passport": {"held": False},
            },
            "jdoe",
        ).id
    with db.reading() as s:
        row = s.get(ProcessInstance, iid)
        assert (row.country, str(row.starts_on), str(row.ends_on)) == ("France", "2026-12-04", "2026-12-07")
    engine.glue.processes["passport_visa"].approved = lambda data: True  # as if approved already
    try:
        with pytest.raises(InvalidState, match="already approved"):
            with db.transaction() as s:
                engine.cancel(s, iid, "jdoe", "changed my mind")
        with db.transaction() as s:  # the office can still cancel
            engine.cancel(s, iid, "admin", "trip cancelled")
    finally:
        engine.glue.processes["passport_visa"].approved = None
