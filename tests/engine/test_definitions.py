"""Deployment: versioning by content hash, and rejection of broken or hostile files."""

from __future__ import annotations

import shutil
import time

import pytest
from sqlalchemy import func, select

from engine import DefinitionError
from engine.definitions import SourceSet, read_sources
from engine.models import ProcessDefinition
from tests.conftest import FIXTURES

SMALL = FIXTURES / "small"
BPMN_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def definition_count(db) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


def test_deploy_is_versioned_by_content(db, engine, tmp_path):
    with db.transaction() as s:
        [first] = engine.deploy(s, [SMALL], deployed_by="admin")
    assert (first.key, first.version, first.created) == ("small_approval", 1, True)
    with db.transaction() as s:
        [again] = engine.deploy(s, [SMALL / "small_approval.bpmn"])
    assert (again.version, again.created, again.content_hash) == (1, False, first.content_hash)

    changed = tmp_path / "small"
    shutil.copytree(SMALL, changed)
    form = changed / "forms" / "review.schema.json"
    form.write_text(form.read_text().replace('"maxLength": 2000', '"maxLength": 500'))
    with db.transaction() as s:
        [second] = engine.deploy(s, [changed])
    assert (second.version, second.created) == (2, True)
    with db.reading() as s:
        stored = s.scalars(select(ProcessDefinition).where(ProcessDefinition.version == 2)).one()
        assert sorted(f.path for f in stored.files) == [
            "forms/request.schema.json",
            "forms/review.schema.json",
            "small_approval.bpmn",
        ]
        assert stored.deployed_by is None and stored.name == "Small approval"


def sources(**files: str) -> SourceSet:
    s = SourceSet()
    for name, content in files.items():
        path = name.replace("__", "/").replace("_bpmn", ".bpmn").replace("_dmn", ".dmn")
        s.add(path, content)
        if path.endswith(".bpmn"):
            s.requested.append(path)
    return s


def small_with(old: str, new: str) -> SourceSet:
    s = read_sources([SMALL])
    s.files["small_approval.bpmn"] = s.files["small_approval.bpmn"].replace(old, new)
    return s


XXE = f"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions {BPMN_NS} id="d"><bpmn:process id="p" name="&xxe;"/></bpmn:definitions>"""
XXE_NETWORK = XXE.replace("file:///etc/passwd", "http://127.0.0.1:9/evil")
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + f"]>\n<bpmn:definitions {BPMN_NS} id='d'><bpmn:process id='p' name='&lol9;'/></bpmn:definitions>"
)
DEEP = f"<bpmn:definitions {BPMN_NS} id='d'>" + "<a>" * 5000 + "</a>" * 5000 + "</bpmn:definitions>"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (lambda: sources(x_bpmn="this is not xml"), "x.bpmn:1: not well-formed XML (line 1)"),
        (lambda: sources(x_bpmn=XXE), "DTDs and entity declarations are not allowed"),
        (lambda: sources(x_bpmn=XXE_NETWORK), "DTDs and entity declarations are not allowed"),
        (lambda: sources(x_bpmn=LAUGHS), "DTDs and entity declarations are not allowed"),
        (lambda: sources(x_bpmn=DEEP), "x.bpmn:1: not well-formed XML"),
        (lambda: sources(x_bpmn="<html><body>hi</body></html>"), "x.bpmn:1: not a BPMN 2.0 document"),
        (lambda: sources(x_bpmn="<x>" + "a" * (3 * 1024 * 1024) + "</x>"), "over the 2,097,152-byte limit"),
    ],
    ids=["not-xml", "xxe-file", "xxe-network", "billion-laughs", "deep-nesting", "not-bpmn", "huge"],
)
def test_hostile_or_broken_xml_is_rejected_and_nothing_stored(db, engine, source, expected):
    started = time.monotonic()
    with pytest.raises(DefinitionError) as info:
        with db.transaction() as s:
            engine.deploy(s, sources=source())
    assert expected in str(info.value)
    assert time.monotonic() - started < 10  # bounded, not a hang
    assert definition_count(db) == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '<bpmn:endEvent id="EndEvent_rejected"',
            '<bpmn:frobnicate id="X"/><bpmn:endEvent id="EndEvent_rejected"',
            "frobnicate",
        ),
        ('targetRef="Task_review"', 'targetRef="Task_missing"', "Task_missing"),
        ('id="StartEvent_request"', 'id="Start"', "collides with SpiffWorkflow"),
        ("total = round(amount * 1.13, 2)", "total = __import__('os').getuid()", "'__import__' is not allowed"),
        ("total = round(amount * 1.13, 2)", "total = open('/etc/passwd').read()", "unknown function 'open'"),
        ("total = round(amount * 1.13, 2)", "total = ().__class__.__mro__", "'.__class__' is not allowed"),
        ("total = round(amount * 1.13, 2)", "import os", "imports are not allowed"),
        ('decision == "approve"', "decision ==", "syntax error"),
        (
            "<bpmn:timeDuration>P3D</bpmn:timeDuration>",
            "<bpmn:timeDuration>P3X</bpmn:timeDuration>",
            "timer 'P3X' is not a valid ISO 8601 value",
        ),
        ('value="forms/review.schema.json"', 'value="forms/missing.schema.json"', "does not exist"),
        ('name="Senior management"', 'name="???"', "lane '???' names no role"),
        ('default="Flow_rejected"', "", "has no condition and is not the gateway's default"),
    ],
    ids=[
        "unknown-element",
        "broken-reference",
        "reserved-id",
        "import-dunder",
        "open",
        "class-escape",
        "import-statement",
        "condition-syntax",
        "bad-timer",
        "missing-form",
        "lane-names-no-role",
        "gateway-default",
    ],
)
def test_invalid_process_is_rejected_with_location(db, engine, old, new, expected):
    s = small_with(old, new)
    assert s.files["small_approval.bpmn"] != read_sources([SMALL]).files["small_approval.bpmn"]
    with pytest.raises(DefinitionError) as info:
        with db.transaction() as session:
            engine.deploy(session, sources=s)
    message = str(info.value)
    assert expected in message
    assert "small_approval.bpmn" in message
    assert definition_count(db) == 0


def test_findings_name_file_line_and_element(engine):
    s = small_with('name="Senior management"', 'name="Astronauts"')
    [finding] = engine.check(s)
    assert finding["file"] == "small_approval.bpmn"
    assert finding["element"] == "Task_escalated_review" and finding["name"] == "Escalated review"
    assert isinstance(finding["line"], int) and finding["line"] > 1


def test_due_property_must_be_iso_duration(engine):
    s = small_with('name="dueIn" value="P2D"', 'name="dueIn" value="two days"')
    [finding] = engine.check(s)
    assert finding["message"] == "property dueIn='two days' is not an ISO 8601 duration"


def test_no_executable_process(engine):
    s = sources(
        x_bpmn=f'<bpmn:definitions {BPMN_NS} id="d" targetNamespace="t">'
        '<bpmn:process id="p" isExecutable="false"/></bpmn:definitions>'
    )
    assert [f["message"] for f in engine.check(s)] == ["no executable process in this file: mark one isExecutable"]


def test_read_sources_errors(tmp_path):
    from engine import NotFound

    with pytest.raises(NotFound):
        read_sources([tmp_path / "nope"])
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DefinitionError):
        read_sources([tmp_path / "x.txt"])
