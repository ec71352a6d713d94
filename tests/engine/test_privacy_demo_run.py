"""A demo run leaves no passport number or birth date in clear: not in any table (raw SQL, every
column of every table, on SQLite and PostgreSQL), not in the SQLite file's bytes, not in the
logs, not in what pages and exports show (masked); and the access log names who revealed one."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from engine import task_drafts
from engine.demo.history import generate
from engine.models import Base, ProcessInstance, TaskRecord
from engine.people.users import get_user
from engine.privacy.records import access_log
from tests.conftest import ROOT

SECRET_KEYS = {"passport_number", "date_of_birth", "followup_passport_number"}


def secrets_in(tree: Any, parent: str | None = None) -> set[str]:
    """Values of passport numbers and birth dates anywhere in a (decrypted) JSON tree."""
    found: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, str) and (key in SECRET_KEYS or (parent == "current_passport" and key == "number")):
                found.add(value)
            found |= secrets_in(value, key)
    elif isinstance(tree, list):
        for item in tree:
            found |= secrets_in(item, parent)
    return found


def every_stored_value(db) -> str:  # type: ignore[no-untyped-def]
    """Every column of every row of every table, as text."""
    out = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table.name}"))]
    return "\n".join(out)


def test_a_demo_run_keeps_passport_numbers_and_birth_dates_out_of_clear_text(people, engine, clock, caplog):
    db = people
    caplog.set_level(logging.DEBUG)
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    generate(db, engine, 40, now=clock.now(), days=90, seed=7)
    clock.set(clock.now() + timedelta(days=1))

    with db.transaction() as s:  # a security officer's half-filled screening review, saved as a draft
        row = s.query(TaskRecord).filter_by(element_id="UserTask_screen_member", status="ready").first()
        parsed = engine.definition_for(s, row.instance)
        draft = {"screening_result": "not_cleared", "screening_comment": "Record ZQ7710392 under review"}
        sroy = get_user(s, "sroy")
        task_drafts.save(s, row, sroy, draft, clock.now(), parsed.form(row.form), engine.vault, parsed.personal)

    secrets: set[str] = {"ZQ7710392"}
    with db.reading() as s:
        instances = s.query(ProcessInstance).all()
        for instance in instances:
            secrets |= secrets_in(engine.vault.unseal(json.loads(instance.state)))
        shown = json.dumps([engine.display_data(s, i) for i in instances], ensure_ascii=False)
    assert len(secrets) >= 5, "the demo run should hold some passport numbers and birth dates"

    stored = every_stored_value(db)
    assert "enc:v1:" in stored
    leaks = [stored[max(0, stored.index(v) - 300) : stored.index(v) + 50] for v in secrets if v in stored]
    assert leaks == []
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = Path(db.engine.url.database).read_bytes()
        assert [v for v in secrets if v.encode() in raw] == []
    assert [v for v in secrets if v in caplog.text] == []
    assert [v for v in secrets if v in shown] == [] and '"••••"' in shown  # masks show nothing of a value

    with db.transaction() as s:  # the requester of a delegation visit reveals, and it is on record
        visit = next(i for i in instances if i.process_key == "delegation_visit")
        visit = s.get(ProcessInstance, visit.id)
        clear = engine.reveal(s, visit, visit.started_by, "request page (requester)")
        assert secrets_in(clear) and secrets_in(clear) <= secrets
    with db.reading() as s:
        [entry] = access_log(s, instance_id=visit.id)
        assert entry.user.id == visit.started_by_id and any("passport_number" in f for f in entry.fields)
