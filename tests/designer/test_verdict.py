"""One verdict: `check` passes exactly when `deploy` accepts, over every BPMN file the project and
the OMG interchange suite hold; findings are complete, named and readable; files as tools save them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine import DefinitionError
from engine.definitions import read_sources
from engine.models import ProcessDefinition
from tests.conftest import FIXTURES, ROOT

MIWG = ROOT.parent / "shared" / "conformance" / "miwg"
#: Waypoint's own processes and every BPMN file the project's tests use
OWN = sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted(
    p for p in (ROOT / "tests").rglob("*.bpmn") if "fixtures" in p.parts and ".pytest_cache" not in p.parts
)
CORPUS = OWN + sorted(MIWG.glob("*.bpmn"))
#: the MIWG diagrams are read in place, next to the project (CI has them); elsewhere these tests skip
needs_miwg = pytest.mark.skipif(not MIWG.is_dir(), reason=f"no OMG MIWG reference diagrams at {MIWG}")
CORPUS_IDS = [str(p.relative_to(ROOT.parent)) for p in CORPUS]


@pytest.fixture
def cli_run(sqlite_db) -> Callable[..., subprocess.CompletedProcess]:
    """`waypoint ARGS` against a migrated SQLite database; asserts the exit status and no traceback."""

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        env = {**os.environ, "WAYPOINT_DATABASE_URL": sqlite_db.url}
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == expect, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        return proc

    return run


def _deploys(db, engine, path: Path) -> bool:
    try:
        with db.transaction() as s:
            engine.deploy(s, [path], deployed_by="admin")
    except DefinitionError:
        return False
    return True


@pytest.mark.parametrize("path", CORPUS, ids=CORPUS_IDS)
def test_check_passes_if_and_only_if_deploy_accepts(sqlite_db, engine, path: Path):
    with sqlite_db.transaction() as s:
        findings = engine.check(read_sources([path]), s)
    errors = [f for f in findings if f["severity"] == "error"]
    assert _deploys(sqlite_db, engine, path) == (not errors), findings
    for finding in findings:
        assert "<Element" not in finding["message"] and " at 0x" not in finding["message"]
        assert "\n" not in finding["message"]


@needs_miwg
def test_the_corpus_is_all_there():
    assert len(list(MIWG.glob("*.bpmn"))) >= 20 and len(OWN) >= 5


def test_waypoints_own_processes_deploy_with_no_error(sqlite_db, engine):
    with sqlite_db.transaction() as s:
        findings = engine.check(read_sources([ROOT / "bpmn"]), s)
        assert [f for f in findings if f["severity"] == "error"] == []
        results = engine.deploy(s, [ROOT / "bpmn"], deployed_by="admin")
    assert {r.key for r in results} >= {"conference_attendance", "passport_visa", "delegation_visit"}


def test_a_file_the_library_refuses_does_not_hide_the_other_findings(engine):
    sources = read_sources([FIXTURES / "small"])
    text = sources.files["small_approval.bpmn"]
    text = text.replace("<bpmn:messagePath>order_ref</bpmn:messagePath>", "")  # the BPMN schema refuses this
    sources.files["small_approval.bpmn"] = text.replace('name="dueIn" value="P2D"', 'name="dueIn" value="two days"')
    messages = " | ".join(f["message"] for f in engine.check(sources))
    assert "messagePath" in messages and "dueIn='two days' is not an ISO 8601 duration" in messages


def test_an_iso_8859_1_file_is_read_as_saved(tmp_path: Path, engine):
    source = (FIXTURES / "small" / "small_approval.bpmn").read_text()
    latin = source.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace(
        'name="Supervisor review"', 'name="Révision du superviseur"'
    )
    assert 'encoding="ISO-8859-1"' in latin
    folder = tmp_path / "latin"
    (folder / "forms").mkdir(parents=True)
    (folder / "small_approval.bpmn").write_bytes(latin.encode("latin-1"))
    for form in (FIXTURES / "small" / "forms").iterdir():
        (folder / "forms" / form.name).write_text(form.read_text())
    sources = read_sources([folder / "small_approval.bpmn"])
    assert "Révision du superviseur" in sources.files["small_approval.bpmn"]
    assert [f for f in engine.check(sources) if f["severity"] == "error"] == []


@needs_miwg
def test_library_errors_name_the_element_and_say_what_to_do(engine):
    findings = engine.check(read_sources([MIWG / "C.1.0.bpmn"]))
    service = next(f for f in findings if "service task" in f["message"])
    assert (service["element"], service["name"]) == ("archiveInvoice", "Archive Invoice")
    assert "make it a script task, a user task or a manual task" in service["message"]
    assert isinstance(service["line"], int)


@needs_miwg
def test_text_output_names_each_finding_on_one_line(cli_run):
    result = cli_run("check", str(MIWG / "B.1.0.bpmn"), expect=1)
    lines = result.stdout.strip().splitlines()
    assert any("has no condition" in line for line in lines)
    assert all(re.match(r"^B\.1\.0\.bpmn(:\d+)?: ", line) for line in lines), lines


def test_a_new_role_is_a_warning_and_the_deploy_creates_it(sqlite_db, engine, tmp_path: Path):
    text = (FIXTURES / "small" / "small_approval.bpmn").read_text().replace('name="Supervisor"', 'name="Legal Team"')
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "small_approval.bpmn").write_text(text)
    (folder / "forms").mkdir()
    for form in (FIXTURES / "small" / "forms").iterdir():
        (folder / "forms" / form.name).write_text(form.read_text())
    with sqlite_db.transaction() as s:
        findings = engine.check(read_sources([folder / "small_approval.bpmn"]), s)
    assert [f["severity"] for f in findings if "legal_team" in f["message"]] == ["warning"]
    with sqlite_db.transaction() as s:
        engine.deploy(s, [folder / "small_approval.bpmn"])
        from engine.people.roles import get_role

        assert get_role(s, "legal_team").name_en == "Legal Team"


def test_a_start_that_leads_nowhere_is_a_finding(engine):
    sources = read_sources([FIXTURES / "small"])
    text = sources.files["small_approval.bpmn"]
    sources.files["small_approval.bpmn"] = re.sub(r'<bpmn:sequenceFlow id="Flow_1"[^>]*/>', "", text, count=1)
    messages = [f["message"] for f in engine.check(sources)]
    assert any("no path leads from this start event to an end" in m for m in messages), messages


# --- files as tools save them; deploy FILE reads what it is given --------------------------------------
def test_bpmn20_xml_upper_case_and_plain_xml_are_bpmn(tmp_path: Path, engine):
    source = FIXTURES / "small"
    for name in ("approval.bpmn20.xml", "APPROVAL.BPMN", "approval.xml"):
        folder = tmp_path / name.replace(".", "_")
        (folder / "forms").mkdir(parents=True)
        (folder / name).write_text((source / "small_approval.bpmn").read_text())
        for form in (source / "forms").iterdir():
            (folder / "forms" / form.name).write_text(form.read_text())
        sources = read_sources([folder / name])
        assert sources.requested == [name]
        assert [f for f in engine.check(sources) if f["severity"] == "error"] == []


def test_check_accepts_a_dmn_alone(cli_run):
    result = cli_run("check", str(ROOT / "bpmn" / "rules" / "visa_requirement.dmn"), expect=0)
    assert "no findings" in result.stdout


def test_deploy_file_ignores_an_unrelated_broken_file_beside_it(tmp_path: Path, sqlite_db, engine):
    folder = tmp_path / "downloads"
    (folder / "forms").mkdir(parents=True)
    for path in (FIXTURES / "small").rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(FIXTURES / "small")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (folder / "broken.bpmn").write_text("<not xml")
    (folder / "hostile.bpmn").write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    (folder / "other.dmn").write_text("nope")
    sources = read_sources([folder / "small_approval.bpmn"])
    assert "broken.bpmn" not in sources.files and "hostile.bpmn" not in sources.files
    assert "forms/review.schema.json" in sources.files
    with sqlite_db.transaction() as s:
        [result] = engine.deploy(s, [folder / "small_approval.bpmn"])
    assert result.key == "small_approval" and result.created
    with pytest.raises(DefinitionError):  # the folder is still a bundle: its broken file refuses it
        with sqlite_db.transaction() as s:
            engine.deploy(s, [folder])


def test_deploy_finds_a_called_process_by_id_and_then_among_deployed_ones(tmp_path: Path, sqlite_db, engine):
    with sqlite_db.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"], deployed_by="admin")
    caller = tmp_path / "caller.bpmn"
    caller.write_text(CALLER)
    (tmp_path / "unrelated.bpmn").write_text("<broken")
    sources = read_sources([caller])
    assert sorted(sources.files) == ["caller.bpmn"]
    with sqlite_db.transaction() as s:
        findings = engine.check(sources, s)
        assert [f for f in findings if f["severity"] == "error"] == [], findings
        assert any(p.endswith("security_screening.bpmn") for p in sources.files)
        [result] = engine.deploy(s, [caller])
        stored = s.get(ProcessDefinition, result.definition_id)
        assert any(f.path.endswith("security_screening.bpmn") for f in stored.files)


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="caller" name="Caller" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Requester"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" name="Go"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
    <bpmn:callActivity id="c" name="Screening" calledElement="security_screening"/>
    <bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
    <bpmn:endEvent id="e" name="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""


@needs_miwg
def test_json_output_has_severity(cli_run):
    result = cli_run("check", "--json", str(MIWG / "C.1.0.bpmn"), expect=1)
    findings = json.loads(result.stdout)
    assert {f["severity"] for f in findings} == {"error", "warning"}
