"""Who may do what: each `Engine.may_*` answer is the refusal its action raises, person by person.

For every case the predicate is asked in a read, and the action is tried in a transaction that
is rolled back afterwards: both must agree (no refusal and success, or the same error with the
same message).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import (
    InvalidState,
    PermissionDenied,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
    WaypointError,
)
from engine.models import ProcessInstance, TaskRecord
from engine.people.delegation import delegate
from engine.people.users import add_user, get_user
from tests.conftest import FIXTURES


class Undo(Exception):
    """Raised after a successful action so that its transaction rolls back."""


@pytest.fixture
def small(people, engine):
    """The demo people, `sup2` (a second supervisor) and the small approval process."""
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        add_user(s, "sup2", now=engine.clock.now(), roles=["supervisor"])
    return people


def start(db, engine, user: str) -> tuple[int, str]:
    """A small approval started by `user`: (request id, its review task id)."""
    with db.transaction() as s:
        instance = engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, user)
        row = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)).one()
        return instance.id, row.id


def agree(db, engine, username: str, may: Callable[..., Any], act: Callable[..., Any], target: Any) -> Any:
    """Ask `may(session, user, row)` and try `act(session, user, row)`; assert they agree; return the answer."""
    with db.reading() as s:
        answer = may(s, get_user(s, username), target(s))
    try:
        with db.transaction() as s:
            act(s, get_user(s, username), target(s))
            raise Undo
    except Undo:
        raised = None
    except WaypointError as exc:
        raised = exc
    assert (type(answer), str(answer)) == (type(raised), str(raised)), username
    return answer


def task(task_id: str) -> Callable[[Any], TaskRecord]:
    return lambda s: s.get(TaskRecord, task_id)


def request(instance_id: int) -> Callable[[Any], ProcessInstance]:
    return lambda s: s.get(ProcessInstance, instance_id)


def expect(answer: Any, refusal: type | None, words: str = "") -> None:
    if refusal is None:
        assert answer is None
    else:
        assert type(answer) is refusal and words in str(answer), answer


@pytest.mark.parametrize(
    ("who", "refusal", "words"),
    [
        ("msmith", None, ""),  # the assignee (jdoe's manager)
        ("fchan", PermissionDenied, "assigned to Marc Smith"),
        ("dlee", PermissionDenied, "assigned to Marc Smith"),  # his manager may reassign, not decide
        ("jdoe", PermissionDenied, "you started this request"),
        ("ebrown", None, ""),  # Marc Smith's out-of-office delegate
    ],
)
def test_may_work_is_what_complete_refuses(small, engine, who, refusal, words):
    db = small
    _, task_id = start(db, engine, "jdoe")
    with db.transaction() as s:
        today = engine.today()
        delegate(s, get_user(s, "msmith"), "ebrown", today, today + timedelta(days=3), "away", engine.clock.now())

    def complete(s, user, row):
        engine.complete(s, row.id, user, {"decision": "approve"})

    expect(agree(db, engine, who, engine.may_work, complete, task(task_id)), refusal, words)


@pytest.mark.parametrize(
    ("who", "claimed_by", "refusal", "words"),
    [
        ("msmith", None, None, ""),  # a queue task of his role
        ("dlee", None, PermissionDenied, "you started this request"),
        ("fchan", None, PermissionDenied, "needs the role 'supervisor'"),
        ("sup2", "msmith", TaskAlreadyClaimed, "Marc Smith is working on"),
        ("msmith", "msmith", None, ""),  # claiming one's own claim again: a no-op
    ],
)
def test_may_claim_is_what_claim_refuses(small, engine, who, claimed_by, refusal, words):
    db = small
    _, task_id = start(db, engine, "dlee")  # dlee has no manager: the supervisors' queue
    if claimed_by:
        with db.transaction() as s:
            engine.claim(s, task_id, claimed_by)

    def claim(s, user, row):
        engine.claim(s, row.id, user)

    expect(agree(db, engine, who, engine.may_claim, claim, task(task_id)), refusal, words)


@pytest.mark.parametrize(
    ("who", "claimed", "refusal", "words"),
    [
        ("msmith", True, None, ""),  # the claimant
        ("admin", True, None, ""),
        ("sup2", True, PermissionDenied, "only the person who claimed"),
        ("msmith", False, InvalidState, "not claimed"),
    ],
)
def test_may_release_is_what_release_refuses(small, engine, who, claimed, refusal, words):
    db = small
    _, task_id = start(db, engine, "dlee")
    if claimed:
        with db.transaction() as s:
            engine.claim(s, task_id, "msmith")

    def release(s, user, row):
        engine.release(s, row.id, user)

    expect(agree(db, engine, who, engine.may_release, release, task(task_id)), refusal, words)


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        ("dlee", None),  # manages msmith, who holds the task
        ("cgagnon", None),  # ITV coordinator
        ("admin", None),
        ("msmith", PermissionDenied),  # the holder himself
        ("fchan", PermissionDenied),
        ("jdoe", PermissionDenied),
    ],
)
def test_may_reassign_is_what_reassign_refuses(small, engine, who, refusal):
    db = small
    _, task_id = start(db, engine, "jdoe")

    def reassign(s, user, row):
        engine.reassign(s, row.id, user, None, "back to the queue")

    words = "only an admin, an ITV coordinator or the holder's manager"
    expect(agree(db, engine, who, engine.may_reassign, reassign, task(task_id)), refusal, words)


@pytest.mark.parametrize(
    ("who", "approved", "refusal", "words"),
    [
        ("jdoe", False, None, ""),  # the requester withdraws
        ("admin", False, None, ""),
        ("msmith", False, PermissionDenied, "only the person who started"),
        ("jdoe", True, InvalidState, "already approved"),
        ("admin", True, None, ""),  # the office can still cancel
    ],
)
def test_may_cancel_is_what_cancel_refuses(small, engine, who, approved, refusal, words):
    db = small
    instance_id, _ = start(db, engine, "jdoe")
    original = engine.glue.is_approved  # the small process has no glue: stand in for "approved"
    engine.glue.is_approved = lambda key, data: approved  # type: ignore[method-assign]
    try:

        def cancel(s, user, instance):
            engine.cancel(s, instance.id, user, "changed plans")

        expect(agree(db, engine, who, engine.may_cancel, cancel, request(instance_id)), refusal, words)
    finally:
        engine.glue.is_approved = original  # type: ignore[method-assign]


def test_a_finished_task_or_request_refuses_everything_alike(small, engine):
    db = small
    instance_id, task_id = start(db, engine, "jdoe")
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "reject"})
    checks = [
        (engine.may_work, lambda s, u, r: engine.complete(s, r.id, u, {"decision": "approve"})),
        (engine.may_claim, lambda s, u, r: engine.claim(s, r.id, u)),
        (engine.may_release, lambda s, u, r: engine.release(s, r.id, u)),
        (engine.may_reassign, lambda s, u, r: engine.reassign(s, r.id, u, None, "why")),
    ]
    for may, act in checks:
        answer = agree(db, engine, "admin", may, act, task(task_id))
        expect(answer, TaskAlreadyCompleted, "already completed by Marc Smith")
    with db.reading() as s:
        status = s.get(ProcessInstance, instance_id).status
    refusal = agree(
        db, engine, "admin", engine.may_cancel, lambda s, u, i: engine.cancel(s, i.id, u), request(instance_id)
    )
    expect(refusal, InvalidState, f"is {status}, not running")


@pytest.mark.parametrize(
    ("target", "refusal", "words"),
    [
        ("msmith", None, ""),
        ("sup2", None, ""),
        ("dlee", PermissionDenied, "Diane Lee started this request"),  # a supervisor, but her own request
        ("fchan", PermissionDenied, "does not have the role 'supervisor'"),
    ],
)
def test_may_hold_is_what_reassign_refuses_for_the_new_holder(small, engine, target, refusal, words):
    db = small
    _, task_id = start(db, engine, "dlee")

    def may_hold(s, user, row):
        return engine.may_hold(s, get_user(s, target), row)

    def reassign(s, user, row):
        engine.reassign(s, row.id, user, target, "she knows the file")

    expect(agree(db, engine, "admin", may_hold, reassign, task(task_id)), refusal, words)
