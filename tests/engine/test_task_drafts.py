"""Drafts of unfinished task forms: kept sealed per person, and gone once the task is completed,
whatever the channel (here the engine itself and the command line; the email link and the
reply in tests/scheduler/test_drafts_cleared.py, the API in tests/api/test_tasks.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from engine import PermissionDenied, task_drafts
from engine.models import TaskDraft, TaskRecord
from engine.people.users import get_user
from tests.conftest import FIXTURES


@pytest.fixture
def small(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    return people


def start(db, engine) -> str:
    """Jane Doe's small approval; the id of its review task (Marc Smith's)."""
    with db.transaction() as s:
        instance = engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, "jdoe")
        return s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == instance.id)).one()


def save(db, engine, task_id: str, username: str, data: dict) -> None:
    with db.transaction() as s:
        row = s.get(TaskRecord, task_id)
        parsed = engine.definition_for(s, row.instance)
        user = get_user(s, username)
        task_drafts.save(s, row, user, data, engine.clock.now(), parsed.form(row.form), engine.vault, parsed.personal)


def drafts(db, task_id: str) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(TaskDraft).where(TaskDraft.task_id == task_id))


def test_a_draft_keeps_declared_fields_per_person(small, engine):
    db = small
    task_id = start(db, engine)
    save(db, engine, task_id, "msmith", {"comment": "half a thought", "undeclared": 1})
    save(db, engine, task_id, "msmith", {"comment": "a whole thought"})
    with db.reading() as s:
        mine = task_drafts.get(s, task_id, get_user(s, "msmith"))
        assert engine.vault.unseal(mine.data) == {"comment": "a whole thought"}
        assert task_drafts.get(s, task_id, get_user(s, "dlee")) is None
    assert drafts(db, task_id) == 1


def test_completing_a_task_clears_everyones_drafts_of_it_only(small, engine):
    db = small
    task_id, other = start(db, engine), start(db, engine)
    save(db, engine, task_id, "msmith", {"comment": "mine"})
    save(db, engine, task_id, "dlee", {"comment": "his manager's"})
    save(db, engine, other, "msmith", {"comment": "another request"})
    with db.transaction() as s:
        engine.complete(s, task_id, "msmith", {"decision": "approve"})
    assert (drafts(db, task_id), drafts(db, other)) == (0, 1)
    with pytest.raises(PermissionDenied, match="no longer open"):
        save(db, engine, task_id, "msmith", {"comment": "too late"})


def test_a_refused_completion_keeps_the_draft(small, engine):
    db = small
    task_id = start(db, engine)
    save(db, engine, task_id, "msmith", {"comment": "keep me"})
    with pytest.raises(PermissionDenied):
        with db.transaction() as s:
            engine.complete(s, task_id, "fchan", {"decision": "approve"})
    assert drafts(db, task_id) == 1


def test_completing_by_the_command_line_leaves_no_draft(small, engine):
    db = small
    task_id = start(db, engine)
    save(db, engine, task_id, "msmith", {"comment": "typed on the page, finished in a terminal"})
    done = subprocess.run(
        [sys.executable, "-m", "cli", "complete", task_id, "--as", "msmith", "--data", '{"decision": "approve"}'],
        capture_output=True,
        text=True,
        env={**os.environ, "WAYPOINT_DATABASE_URL": db.url},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and "completed 'Supervisor review'" in done.stdout, done.stderr
    assert drafts(db, task_id) == 0
