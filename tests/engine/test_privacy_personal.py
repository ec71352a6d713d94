"""`x-personal` fields (names, nationalities) and values scripts derive from personal fields:
sealed at rest, masked, out of summaries and email subjects, logged when revealed."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import text

from engine.models import ProcessInstance
from engine.models.states import decompress
from engine.people.users import get_user
from engine.privacy.records import access_log
from engine.privacy.taint import derived_names
from engine.privacy.vault import classify, redact
from tests.conftest import ROOT
from tests.engine.test_privacy import VISIT

TRAVELLER = "Quentin Uniquename"
PASSPORT = "LK5550001"


def trip(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "traveller_name": TRAVELLER,
        "trip_start_date": "2026-12-04",
        "trip_end_date": "2026-12-07",
        "destinations": ["France"],
        "travel_purpose": "Meeting",
        "passport_type": "official",
        "current_passport": {"held": True, "number": PASSPORT, "expiry": "2031-01-01"},
    }
    return {**data, **overrides}


def stored_text(db) -> str:  # type: ignore[no-untyped-def]
    """Everything the database holds about requests, their audit trail and their emails."""
    queries = (
        "SELECT data, summary FROM process_instances",
        "SELECT details FROM audit_events",
        "SELECT subject, body_text, body_html FROM outbox",
    )
    with db.engine.connect() as conn:
        rows = [row for query in queries for row in conn.execute(text(query)).all()]
        rows += [(decompress(state),) for (state,) in conn.execute(text("SELECT state FROM instance_states"))]
    return json.dumps([list(map(str, row)) for row in rows])


def test_names_are_sealed_and_kept_out_of_summaries_and_emails(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        iid = engine.start(s, "passport_visa", trip(), "jdoe").id
        visit = engine.start(s, "delegation_visit", VISIT, "lokafor").id
    stored = stored_text(db)
    for secret in (TRAVELLER, PASSPORT, "Anna Weber"):
        assert secret not in stored
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        assert instance.summary.startswith("Jane Doe — travel documents: France")  # the requester's own name
        assert engine.display_data(s, instance)["traveller_name"] == "••••"
        assert engine.clear_data(instance)["traveller_name"] == TRAVELLER
        assert "Federal Policing" in s.get(ProcessInstance, visit).summary
        screening = engine.definition_for(s, s.get(ProcessInstance, visit)).personal  # a screening on its own:
    member = {"member": {"ref": "M1", "name": "Anna Weber", "nationality": "German"}, "agency": "BKA"}
    line = engine.glue.summary_for("security_screening", redact(member, screening))
    assert line == "Screening — member M1 — BKA"  # no name, no nationality


def test_outbox_subjects_hold_no_names(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        engine.start(s, "passport_visa", trip(), "jdoe")
    with db.engine.connect() as conn:
        subjects = [row[0] for row in conn.execute(text("SELECT subject FROM outbox"))]
    assert subjects and all(TRAVELLER not in subject for subject in subjects)


@pytest.mark.parametrize(
    "script, derived",
    [
        ('copied_note = current_passport.get("number")', {"copied_note"}),  # the probe's laundering
        ("x = traveller_name.upper()[::-1]", {"x"}),
        ('x = f"{traveller_name}!"', {"x"}),
        ("y = [m for m in members]", {"y"}),
        ("x = anything['passport_number']", {"x"}),  # a personal key read from any container
        ("x = ''\nfor c in traveller_name:\n    if c == 'Q':\n        x = x + 'Q'", {"x", "c"}),  # implicit flow
        ("x = 0\nif traveller_name.startswith('Q'):\n    x = 1", {"x"}),
        ("out = []\nout.append(current_passport)", {"out"}),
        ("out = {}\nout['k'] = traveller_name", {"out"}),
        ("if (w := traveller_name):\n    pass", {"w"}),
        ("a = traveller_name\nb = a\nc = b", {"a", "b", "c"}),  # a chain, to a fixpoint
        ("size = len(members)", set()),  # a count says nothing of the values
        ("total = cost * 2\nflag = True", set()),
        ("members = sorted_members(members)", set()),  # a classified container keeps its per-field rules
    ],
)
def test_scripts_derive_personal_variables(script, derived):
    schema = {
        "properties": {
            "traveller_name": {"type": "string", "x-personal": True},
            "members": {"type": "array", "items": {"type": "object", "properties": {"name": {"x-personal": True}}}},
            "current_passport": {"type": "object", "properties": {"number": {"x-sensitive": True}}},
        }
    }
    assert derived_names([script], classify([schema])) == derived


def test_derivation_crosses_scripts_and_multi_instance_loops():
    base = classify([{"properties": {"traveller_name": {"type": "string", "x-personal": True}}}])
    assert derived_names(["b = a", "a = traveller_name"], base) == {"a", "b"}  # whatever the order
    assert derived_names(["people = [traveller_name]"], base, [(frozenset({"people"}), ["person", "result"])]) == {
        "people",
        "person",
        "result",
    }
    assert derived_names(["this is not python"], base) == frozenset()  # the check reports it


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="urn:t">
  <inputData id="i_name" name="traveller_name"><variable name="traveller_name" typeRef="string" /></inputData>
  <decision id="initials" name="Initials">
    <informationRequirement><requiredInput href="#i_name" /></informationRequirement>
    <decisionTable hitPolicy="FIRST">
      <input label="Name">
        <inputExpression typeRef="string"><text>substring(traveller_name, 1, 1)</text></inputExpression>
      </input>
      <output name="initial.letter" typeRef="string" />
      <rule><inputEntry><text>-</text></inputEntry><outputEntry><text>"Q"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="greeting" name="greeting">
    <informationRequirement><requiredDecision href="#initials" /></informationRequirement>
    <literalExpression><text>"Hello " + Initials</text></literalExpression>
  </decision>
  <decision id="season" name="season"><literalExpression><text>"winter"</text></literalExpression></decision>
</definitions>"""


def test_a_decision_that_reads_a_personal_value_writes_personal_outputs():
    from types import SimpleNamespace

    from engine.dmn.decide import Decisions
    from engine.dmn.reader import read_model
    from engine.dmn.spiff import DecisionRunner
    from engine.privacy.taint import classify_process
    from engine.xmlsafe import parse_xml

    decisions = Decisions([read_model(parse_xml(DMN, "d.dmn"), "d.dmn")[0]])
    base = classify([{"properties": {"traveller_name": {"type": "string", "x-personal": True}}}])
    tasks = {key: SimpleNamespace(engine=DecisionRunner(decisions, key)) for key in ("initials", "greeting", "season")}
    personal = classify_process(base, [SimpleNamespace(task_specs=tasks)])
    assert personal.top == {"initial", "greeting"}  # through its cells, and through a required decision


def test_a_designer_cannot_launder_a_passport_number(people, engine, tmp_path):
    """F6: a deployed script copies `current_passport.number` into an undeclared variable."""
    source = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn", source)
    bpmn = source / "passport_visa.bpmn"
    content = bpmn.read_text()
    first = "passport_renewal_needed = passport_renewal_required"
    assert first in content
    bpmn.write_text(content.replace(first, 'copied_note = current_passport.get("number")\n' + first, 1))
    db = people
    with db.transaction() as s:
        engine.deploy(s, [source])
        iid = engine.start(s, "passport_visa", trip(), "jdoe").id
    assert PASSPORT not in stored_text(db)
    with db.transaction() as s:
        instance = s.get(ProcessInstance, iid)
        assert engine.clear_data(instance)["copied_note"] == PASSPORT  # the process still has it
        shown = engine.display_data(s, instance)
        assert shown["copied_note"] == "••••" and shown["current_passport"]["number"] == "••••"
        engine.reveal(s, instance, get_user(s, "jdoe"), "my own request")
    with db.reading() as s:
        [entry] = access_log(s, instance_id=iid)
        assert {"copied_note", "current_passport.number", "traveller_name"} <= set(entry.fields)


def test_the_command_line_export_is_for_admins_and_recorded(db):
    from engine.privacy.records import subject_searches
    from tests.engine.test_cli import run

    run(db.url, "seed-demo")
    denied = run(db.url, "privacy", "export", "jdoe", "--as", "msmith", "--reason", "curious", expect=1)
    assert "only an admin can search what is held about a person" in denied.stderr
    export = json.loads(run(db.url, "privacy", "export", "jdoe", "--as", "admin", "--reason", "jdoe asked").stdout)
    assert export["profile"]["username"] == "jdoe"
    with db.reading() as s:
        assert [(q.user.username, q.person, q.reason, q.output) for q in subject_searches(s)] == [
            ("admin", "jdoe", "jdoe asked", "json")
        ]


def test_a_closed_task_reads_the_snapshot_decrypted(people, engine):
    """The task page of a closed task shows the request's snapshot: masked, or in clear once
    revealed, never as ciphertext."""
    from engine.models import TaskRecord
    from engine.privacy.vault import mask

    db = people
    with db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        iid = engine.start(s, "delegation_visit", VISIT, "lokafor").id
    with db.reading() as s:
        row = s.query(TaskRecord).filter_by(instance_id=iid).first()
        row.status = "completed"  # as once it is done (read-only session: never written)
        data = engine.task_data(s, row)
        assert data["members"][0]["name"] == "Anna Weber" and "enc:v1:" not in json.dumps(data)
        assert mask(data, engine.definition_for(s, row.instance).personal)["members"][0]["name"] == "••••"


def test_key_rotation_reencrypts_attached_files(people, engine, clock, tmp_path):
    """Files attached under the old key (or in clear, before encryption) are rewritten under the new
    one, so the old key can go as the README says."""
    from engine.attachments import AttachmentStore
    from engine.privacy.vault import FILE_PREFIX, Keyring, Vault
    from tests.conftest import FIXTURES, make_engine

    pdf, old_pdf = b"%PDF-1.4 passport scan", b"%PDF-1.4 older scan"
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        instance = engine.start(s, "small_approval", {"title": "Scans", "amount": 5}, "jdoe")
        store = AttachmentStore(tmp_path, engine.vault)
        jdoe = get_user(s, "jdoe")
        first = store.add(s, instance, jdoe, "scan.pdf", pdf, clock.now())
        second = store.add(s, instance, jdoe, "old.pdf", old_pdf, clock.now())
    store.path_for(second.sha256).write_bytes(old_pdf)  # as a release before encryption left it
    new_key = Keyring.new_key("k2")
    rotated = AttachmentStore(tmp_path, make_engine(clock=clock, data_key=f"{new_key},{engine.vault._key_text}").vault)
    assert rotated.reseal_all() == 2
    assert rotated.reseal_all() == 0  # nothing left to do
    only_new = AttachmentStore(tmp_path, Vault(new_key))  # the old key is gone
    for attachment, content in ((first, pdf), (second, old_pdf)):
        stored = only_new.path_for(attachment.sha256).read_bytes()
        assert stored.startswith(FILE_PREFIX) and only_new.vault.file_key(stored) == b"k2"
        assert only_new.read(attachment) == content
