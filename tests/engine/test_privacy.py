"""Personal data end to end: ciphertext at rest (raw SQL), masking, logged reveals, wrong keys,
retention purge with a fake clock, subject access, key rotation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine import PermissionDenied, task_drafts
from engine.models import AuditEvent, ProcessInstance, TaskDraft, TaskRecord
from engine.models.states import decompress
from engine.people.users import get_user
from engine.privacy.records import access_log, retention_due, rotate_keys, run_retention, subject_export, subject_rows
from engine.privacy.vault import DataKeyError, Keyring
from tests.conftest import ROOT, make_engine

VISIT = {
    "agency": "Bundeskriminalamt",
    "country": "Germany",
    "purpose": "Exchange",
    "start_date": "2026-12-01",
    "end_date": "2026-12-03",
    "host_unit": "Federal Policing",
    "delegation_seniority": "working_level",
    "sites": [{"name": "HQ", "sensitivity": 1}],
    "members": [
        {
            "name": "Anna Weber",
            "title": "Inspector",
            "nationality": "Germany",
            "date_of_birth": "1970-04-21",
            "passport_number": "C4X9T4821",
        }
    ],
}
SECRETS = ("C4X9T4821", "1970-04-21")


@pytest.fixture
def visit(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        iid = engine.start(s, "delegation_visit", VISIT, "lokafor").id
    return people, iid


def raw_rows(db) -> str:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT data FROM process_instances")).all()
        rows += [(decompress(state),) for (state,) in conn.execute(text("SELECT state FROM instance_states"))]
        audit_rows = conn.execute(text("SELECT details FROM audit_events")).all()
    return json.dumps([list(map(str, r)) for r in rows + audit_rows])


def test_ciphertext_at_rest_and_masked_display(visit, engine):
    db, iid = visit
    stored = raw_rows(db)
    assert all(secret not in stored for secret in SECRETS) and "enc:v1:test:" in stored
    assert "Anna Weber" not in stored  # names (x-personal) are sealed like passport numbers (x-sensitive)
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        shown = engine.display_data(s, instance)
        member = shown["members"][0]
        assert member["passport_number"] == member["date_of_birth"] == member["name"] == "••••"  # nothing shows
        assert member["nationality"] == "••••" and member["title"] == "Inspector"  # not personal: readable
        assert engine.clear_data(instance)["members"][0]["passport_number"] == "C4X9T4821"
        assert engine.clear_data(instance)["members"][0]["name"] == "Anna Weber"


def test_reveal_is_for_permitted_roles_and_logged(visit, engine):
    db, iid = visit
    with db.transaction() as s:
        instance = s.get(ProcessInstance, iid)
        with pytest.raises(PermissionDenied):
            engine.reveal(s, instance, get_user(s, "htremblay"), "curious")  # host unit
        data = engine.reveal(s, instance, get_user(s, "sroy"), "security screening")
        assert data["members"][0]["date_of_birth"] == "1970-04-21"
    with db.reading() as s:
        [entry] = access_log(s, instance_id=iid)
        assert (entry.user.username, entry.reason) == ("sroy", "security screening")
        assert {"members.0.date_of_birth", "members.0.passport_number"} <= set(entry.fields)


def test_wrong_or_missing_key_never_decrypts(visit, clock):
    db, iid = visit
    for key, message in [
        ("", "not set"),
        (Keyring.new_key("test"), "does not decrypt"),
        (Keyring.new_key("other"), "does not hold"),
    ]:
        stranger = make_engine(clock=clock, data_key=key)
        with db.reading() as s, pytest.raises(DataKeyError, match=message):
            stranger.clear_data(s.get(ProcessInstance, iid))


def test_retention_purges_personal_fields_after_closure(visit, engine, clock):
    db, iid = visit
    screening_draft(db, engine, clock)  # left behind when the visit is called off
    with db.transaction() as s:
        engine.cancel(s, iid, "admin", "visit called off")
    with db.reading() as s:
        assert retention_due(s, engine, clock.now()) == []
    clock.advance(days=731)
    with db.reading() as s:
        [due] = retention_due(s, engine, clock.now())
        assert (due["instance_id"], due["retention"]) == (iid, "P2Y")
    assert run_retention(db, engine) == [iid]
    assert run_retention(db, engine) == []  # once
    stored = raw_rows(db) + every_draft(db)
    assert "Anna Weber" not in stored and "enc:v1:" not in stored and every_draft(db) == "[]"
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        assert instance.purged_at is not None and instance.data["agency"] == "Bundeskriminalamt"
        last = s.query(AuditEvent).filter_by(instance_id=iid).order_by(AuditEvent.seq.desc()).first()
        assert last.action == "personal_data_purged" and "members.0.passport_number" in last.details["fields"]
        from engine import audit

        assert audit.verify(s, instance) == []


def test_subject_access_export(visit, engine):
    db, iid = visit
    with db.transaction() as s:
        visitor = subject_export(s, engine, "Anna Weber", viewer=get_user(s, "admin"))
        employee = subject_export(s, engine, "lokafor")
    assert [r["id"] for r in visitor["requests"]] == [iid]
    assert visitor["requests"][0]["data"]["members"][0]["passport_number"] == "C4X9T4821"
    assert employee["profile"]["username"] == "lokafor" and [r["id"] for r in employee["requests"]] == [iid]
    assert employee["actions"][0]["action"] == "started"
    passport = {"section": "requests", "record": iid, "field": "data.members.0.passport_number", "value": "C4X9T4821"}
    assert passport in subject_rows(visitor)
    username = {"section": "profile", "record": "lokafor", "field": "username", "value": "lokafor"}
    assert username in subject_rows(employee)
    with db.reading() as s:  # the export with personal data in clear is on record, the other one had no viewer
        [entry] = access_log(s, instance_id=iid)
        assert entry.user.username == "admin" and entry.reason.startswith("subject access export (Anna Weber)")
        assert "members.0.passport_number" in entry.fields


def screening_draft(db, engine, clock):  # type: ignore[no-untyped-def]
    """Security's unsent screening review of the visit's first member, saved as a draft."""
    with db.transaction() as s:
        row = s.query(TaskRecord).filter_by(element_id="UserTask_screen_member", status="ready").first()
        parsed = engine.definition_for(s, row.instance)
        draft = {"screening_result": "needs_information", "screening_comment": "Name match C4X9T4821"}
        sroy = get_user(s, "sroy")
        task_drafts.save(s, row, sroy, draft, clock.now(), parsed.form(row.form), engine.vault, parsed.personal)
        return row.id


def test_key_rotation_reencrypts_without_loss(visit, engine, clock):
    db, iid = visit
    task_id = screening_draft(db, engine, clock)
    with db.transaction() as s:  # a value stored in clear before its field was classified
        instance = s.get(ProcessInstance, iid)
        instance.data = {**instance.data, "passport_issued": {"passport_number": "LEGACY123"}}
        instance.summary = "Anna Weber (Germany) — as an earlier release wrote it"
    old = make_engine(clock=clock)
    rotated = make_engine(clock=clock, data_key=f"{Keyring.new_key('k2')},{old.vault._key_text}")
    assert rotate_keys(db, rotated) == 1
    assert rotate_keys(db, rotated) == 0  # nothing left to do
    stored = raw_rows(db) + every_draft(db)
    assert ":k2:" in stored and "enc:v1:test:" not in stored and "LEGACY123" not in stored
    assert "Anna Weber" not in stored  # the old summary line is rewritten without the name
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        assert rotated.clear_data(instance)["members"][0]["passport_number"] == "C4X9T4821"
        assert rotated.clear_data(instance)["passport_issued"]["passport_number"] == "LEGACY123"
        draft = s.get(TaskDraft, (task_id, get_user(s, "sroy").id))
        assert rotated.vault.unseal(draft.data)["screening_comment"] == "Name match C4X9T4821"
        with pytest.raises(DataKeyError):
            old.clear_data(instance)


def every_draft(db) -> str:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return json.dumps([str(r[0]) for r in conn.execute(text("SELECT data FROM task_drafts"))])


def test_subject_access_matches_names_and_usernames_only(visit, engine):
    db, iid = visit
    with db.reading() as s:
        for needle in ("C4X9T4821", "4821", "1970-04-21", "Germany", "Inspector"):
            assert subject_export(s, engine, needle)["requests"] == [], needle
        assert [r["id"] for r in subject_export(s, engine, "anna weber")["requests"]] == [iid]
        assert subject_export(s, engine, "an")["requests"] == []  # under 3 characters: the whole name only
