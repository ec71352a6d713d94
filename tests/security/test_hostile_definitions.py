"""Hostile BPMN/DMN: refused with a clear message, in bounded time and memory, nothing stored.

tests/engine/test_definitions.py and test_scripting.py cover hostile BPMN XML and script escapes
one by one; this adds hostile DMN files, encodings that hide a DOCTYPE from a byte scan, XInclude
and remote schema locations, Python allocation bounds (tracemalloc) over every vector, and
scripts that only misbehave at run time (endless loops in a script task, a gateway condition, a
DMN cell, and a BPMN loop without a wait state) against deployed processes.
"""

from __future__ import annotations

import re
import time
import tracemalloc

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine import DefinitionError, Engine, ScriptError
from engine.definitions import SourceSet, read_sources
from engine.models import AuditEvent, ProcessDefinition, ProcessInstance, TaskRecord
from engine.xmlsafe import parse_xml
from tests.conftest import FIXTURES, make_engine
from tests.engine.test_definitions import DEEP, LAUGHS, XXE, XXE_NETWORK
from tests.reliability.harness import snapshot

BPMN_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
DMN_NS = 'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"'
SPIFF_NS = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
MAX_SECONDS = 5
MAX_PYTHON_BYTES = 48 * 1024 * 1024


def dmn(input_text: str = "amount", cell: str = "&gt;= 100", output: str = '"high"', head: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>{head}
<definitions {DMN_NS} id="Definitions_rule" name="Rule" namespace="urn:test">
  <decision id="level_rule" name="Level">
    <decisionTable id="Table_1" hitPolicy="FIRST">
      <input id="Input_1" label="Amount">
        <inputExpression id="InputExpression_1" typeRef="number"><text>{input_text}</text></inputExpression>
      </input>
      <output id="Output_1" label="Level" name="level" typeRef="string" />
      <rule id="Rule_1">
        <inputEntry id="Entry_1"><text>{cell}</text></inputEntry>
        <outputEntry id="Out_1"><text>{output}</text></outputEntry>
      </rule>
      <rule id="Rule_2">
        <inputEntry id="Entry_2"><text></text></inputEntry>
        <outputEntry id="Out_2"><text>"low"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""


def rule_process(extra: str = "") -> str:
    """start → business rule task (level_rule) → end; `extra` goes inside <definitions>."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {BPMN_NS} {SPIFF_NS} id="Definitions_rule_process" targetNamespace="urn:test">{extra}
  <bpmn:process id="rule_process" name="Rule process" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="Task_rule" name="Decide level">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>level_rule</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_rule" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_rule" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>"""


LOOP_PROCESS = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {BPMN_NS} id="Definitions_loop" targetNamespace="urn:test">
  <bpmn:process id="loop_process" name="Loop without a wait" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Task_spin" name="Spin">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:incoming>Flow_back</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>spins = guard()</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gateway_again" name="Again?" default="Flow_out">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_back</bpmn:outgoing><bpmn:outgoing>Flow_out</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_out</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_spin" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_spin" targetRef="Gateway_again" />
    <bpmn:sequenceFlow id="Flow_back" sourceRef="Gateway_again" targetRef="Task_spin">
      <bpmn:conditionExpression>True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_out" sourceRef="Gateway_again" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>"""

SPIN = "sum(i for i in range(100000) for j in range(100000))"  # allowed names, 10^10 steps
UTF7_DOCTYPE = b"+ADwAIQ-DOCTYPE foo +AFs-+ADwAIQ-ENTITY xxe SYSTEM +ACI-file:///etc/passwd+ACI-+AD4-+AF0-+AD4-"


def files(**named: str) -> SourceSet:
    """A source set of the given files (`a_bpmn` → a.bpmn, `r__x_dmn` → r/x.dmn)."""
    s = SourceSet()
    for name, content in named.items():
        path = name.replace("__", "/").replace("_bpmn", ".bpmn").replace("_dmn", ".dmn")
        s.files[path] = content
        if path.endswith(".bpmn"):
            s.requested.append(path)
    return s


# (sources, expected message) — each must be refused
HOSTILE = {
    # DMN files
    "dmn-xxe-file": (lambda: files(p_bpmn=rule_process(), r_dmn=XXE), "r.dmn:2: DTDs and entity declarations"),
    "dmn-xxe-network": (lambda: files(p_bpmn=rule_process(), r_dmn=XXE_NETWORK), "r.dmn:2: DTDs and entity"),
    "dmn-billion-laughs": (lambda: files(p_bpmn=rule_process(), r_dmn=LAUGHS), "r.dmn:2: DTDs and entity"),
    "dmn-deep-nesting": (lambda: files(p_bpmn=rule_process(), r_dmn=DEEP), "r.dmn:1: not well-formed XML"),
    "dmn-huge": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn(output='"' + "x" * (3 * 1024 * 1024) + '"')),
        "over the 2,097,152-byte limit",
    ),
    "dmn-not-xml": (lambda: files(p_bpmn=rule_process(), r_dmn="{'not': 'xml'}"), "r.dmn:1: not well-formed XML"),
    "dmn-not-dmn": (
        lambda: files(p_bpmn=rule_process(), r_dmn="<html><body>hi</body></html>"),
        "r.dmn:1: not a DMN document",
    ),
    "dmn-bpmn-in-disguise": (
        lambda: files(p_bpmn=rule_process(), r_dmn=rule_process()),
        "r.dmn:2: not a DMN document",
    ),
    "dmn-import-cell": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn(cell="__import__('os').system('id')")),
        "'__import__' is not allowed",
    ),
    "dmn-class-escape-input": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn(input_text="().__class__.__mro__[1].__subclasses__()")),
        "'.__class__' is not allowed",
    ),
    "dmn-open-output": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn(output="open('/etc/passwd').read()")),
        "unknown function 'open'",
    ),
    "dmn-eval-output": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn(output="eval('1+1')")),
        "unknown function 'eval'",
    ),
    # encodings and XML features that could slip past a byte scan for <!DOCTYPE
    "utf16-xxe": (
        lambda: files(p_bpmn=rule_process(), r_dmn=dmn()) if False else _raw("x.bpmn", XXE.encode("utf-16")),
        "not UTF-8 text",
    ),
    "utf7-doctype": (
        lambda: files(
            x_bpmn='<?xml version="1.0" encoding="UTF-7"?>\n'
            + UTF7_DOCTYPE.decode()
            + f'<bpmn:definitions {BPMN_NS} id="d"><bpmn:process id="p" name="&xxe;"/></bpmn:definitions>'
        ),
        "x.bpmn:1: only UTF-8 XML is accepted (the file declares UTF-7)",
    ),
    # the outside probe's F11: an unused DOCTYPE in UTF-7 parsed cleanly and was stored with the definition
    "utf7-unused-doctype": (
        lambda: files(
            x_bpmn=rule_process().replace(
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-7"?>\n' + UTF7_DOCTYPE.decode(),
            ),
            r_dmn=dmn(),
        ),
        "x.bpmn:1: only UTF-8 XML is accepted (the file declares UTF-7)",
    ),
    "latin1-declared": (
        lambda: files(x_bpmn=rule_process().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1), r_dmn=dmn()),
        "x.bpmn:1: only UTF-8 XML is accepted (the file declares ISO-8859-1)",
    ),
    "xinclude": (
        lambda: files(
            x_bpmn=rule_process().replace(
                "<bpmn:process ",
                '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
                "<bpmn:process ",
            )
        ),
        "x.bpmn",
    ),
}


def _raw(path: str, content: bytes) -> SourceSet:
    s = SourceSet()
    s.add(path, content)  # refuses what is not UTF-8 text
    s.requested.append(path)
    return s


def counts(db) -> tuple[int, int]:
    with db.reading() as s:
        return (
            s.scalar(select(func.count()).select_from(ProcessDefinition)),
            s.scalar(select(func.count()).select_from(ProcessInstance)),
        )


def test_hostile_definition_files_are_refused_in_bounded_time_and_memory(db, engine):
    """Every vector: a DefinitionError naming the file and the problem, under MAX_SECONDS and
    MAX_PYTHON_BYTES of Python allocations (tracemalloc), and nothing in the database."""
    problems = []
    figures = {}
    for name, (make, expected) in HOSTILE.items():
        tracemalloc.start()
        started = time.monotonic()
        try:
            with db.transaction() as s:
                engine.deploy(s, sources=make())
            problems.append(f"{name}: accepted")
        except DefinitionError as exc:
            if expected not in str(exc):
                problems.append(f"{name}: message {str(exc)!r} lacks {expected!r}")
        except Exception as exc:  # anything but a clear refusal is a failure
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        figures[name] = (round(elapsed, 3), peak)
        if elapsed > MAX_SECONDS or peak > MAX_PYTHON_BYTES:
            problems.append(f"{name}: {elapsed:.1f} s, {peak:,} bytes")
    assert problems == [], (problems, figures)
    assert counts(db) == (0, 0)


def test_xml_defences_hold_below_the_doctype_scan():
    """parse_xml itself, given bytes that hide the DOCTYPE from the scan (UTF-16): lxml refuses
    the external entity and the entity expansion; nothing from the file system appears."""
    for document in (XXE.encode("utf-16"), LAUGHS.encode("utf-16")):
        tracemalloc.start()
        try:
            root = parse_xml(document, "x.bpmn")
            text = etree.tostring(root)
            assert b"root:" not in text and text.count(b"lol") < 1000
        except DefinitionError as exc:
            assert "not well-formed XML" in str(exc)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < MAX_PYTHON_BYTES


def test_remote_references_are_never_fetched(db, engine):
    """Schema locations and imports pointing at a server: deploying never contacts it."""
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'/>")

        def log_message(self, *args):  # quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        bpmn = (
            rule_process()
            .replace(
                'id="Definitions_rule_process"',
                f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x {url}/a.xsd" '
                'id="Definitions_rule_process"',
            )
            .replace(
                "<bpmn:process ",
                f'<bpmn:import importType="http://www.w3.org/2001/XMLSchema" location="{url}/b.xsd" namespace="urn:b"/>'
                "<bpmn:process ",
            )
        )
        rule = dmn().replace(
            'namespace="urn:test">',
            f'namespace="urn:test"><import namespace="urn:c" '
            f'locationURI="{url}/c.dmn" importType="https://www.omg.org/spec/DMN/20191111/MODEL/"/>',
        )
        started = time.monotonic()
        try:
            with db.transaction() as s:
                engine.deploy(s, sources=files(p_bpmn=bpmn, r_dmn=rule))
        except DefinitionError:
            pass  # refusing is fine too; fetching is not
        assert time.monotonic() - started < MAX_SECONDS
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_xinclude_is_never_expanded():
    root = parse_xml(
        f'<bpmn:definitions {BPMN_NS} xmlns:xi="http://www.w3.org/2001/XInclude" id="d">'
        '<xi:include href="file:///etc/passwd" parse="text"/></bpmn:definitions>',
        "x.bpmn",
    )
    assert b"root:" not in etree.tostring(root)


# --- scripts that misbehave only at run time ------------------------------------------------------
@pytest.fixture
def quick_engine(clock) -> Engine:
    """An engine with a short script deadline, so endless scripts are cut off quickly."""
    return make_engine(clock=clock, script_time_limit=0.3)


def small_with(old: str, new: str) -> SourceSet:
    s = read_sources([FIXTURES / "small"])
    assert old in s.files["small_approval.bpmn"]
    s.files["small_approval.bpmn"] = s.files["small_approval.bpmn"].replace(old, new)
    return s


def test_endless_script_task_at_start_stores_nothing(people, quick_engine):
    db = people
    with db.transaction() as s:
        quick_engine.deploy(s, sources=small_with("total = round(amount * 1.13, 2)", "while True:\n    total = 1"))
    before = snapshot(db)
    started = time.monotonic()
    with pytest.raises(ScriptError) as info:
        with db.transaction() as s:
            quick_engine.start(s, "small_approval", {"title": "Spin", "amount": 1}, "jdoe")
    assert time.monotonic() - started < MAX_SECONDS
    assert "Compute total" in str(info.value) and "longer than 0.3 s" in str(info.value)
    assert snapshot(db) == before


def test_endless_condition_after_a_task_leaves_the_instance_as_it_was(people, quick_engine):
    db = people
    with db.transaction() as s:
        quick_engine.deploy(s, sources=small_with('decision == "approve"', f'decision == "approve" and {SPIN} > 0'))
        iid = quick_engine.start(s, "small_approval", {"title": "Spin", "amount": 1}, "jdoe").id
    with db.reading() as s:
        [task_id] = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == iid))
    before = snapshot(db)
    started = time.monotonic()
    with pytest.raises(ScriptError) as info:
        with db.transaction() as s:
            quick_engine.complete(s, task_id, "msmith", {"decision": "approve"})
    assert time.monotonic() - started < MAX_SECONDS
    assert "Approved?" in str(info.value) and "ScriptTimeout" in str(info.value)
    assert snapshot(db) == before
    with db.transaction() as s:  # the other branch does not evaluate the endless part
        quick_engine.complete(s, task_id, "msmith", {"decision": "reject"})
    with db.reading() as s:
        assert s.get(ProcessInstance, iid).outcome == "Rejected"


def test_endless_dmn_cell_stores_nothing(people, quick_engine):
    db = people
    with db.transaction() as s:
        quick_engine.deploy(s, sources=files(p_bpmn=rule_process(), r_dmn=dmn(input_text=SPIN)))
    before = snapshot(db)
    with pytest.raises(ScriptError) as info:
        with db.transaction() as s:
            quick_engine.start(s, "rule_process", {}, "jdoe")
    assert "Decide level" in str(info.value) and "ScriptTimeout" in str(info.value)
    assert snapshot(db) == before


def test_loop_without_a_wait_state_is_stopped(sqlite_db, clock):
    """A cycle of a script task and a gateway, deployed: starting it must end in a ScriptError
    from the engine itself, quickly. The test's guard helper stops the loop after 2 s otherwise."""
    from engine.demo.people import seed_demo_users

    deadline = time.monotonic() + 2
    spins = 0

    def guard() -> int:
        nonlocal spins
        spins += 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"test guard: still looping after {spins} turns")
        return spins

    engine = make_engine(clock=clock, helpers={"guard": guard})
    db = sqlite_db
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
        engine.deploy(s, sources=files(loop_bpmn=LOOP_PROCESS))
    before = snapshot(db)
    with pytest.raises(ScriptError) as info:
        with db.transaction() as s:
            engine.start(s, "loop_process", {}, "jdoe")
    assert snapshot(db) == before
    assert "test guard" not in str(info.value), f"the engine did not stop the loop: {info.value}"


def test_nothing_of_a_refused_deploy_is_stored_even_next_to_a_good_file(db, engine):
    """A good process and a hostile DMN in one deployment: all refused, none stored."""
    good = read_sources([FIXTURES / "small"])
    good.files["rules/evil.dmn"] = XXE
    with pytest.raises(DefinitionError):
        with db.transaction() as s:
            engine.deploy(s, sources=good)
    assert counts(db) == (0, 0)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_doctype_the_byte_scan_missed_is_refused_after_parsing(monkeypatch):
    """Defence in depth for F11: should any encoding trick hide a DOCTYPE from the byte scan, the
    parsed tree's docinfo still shows it, and the file is refused."""
    from engine import xmlsafe

    monkeypatch.setattr(xmlsafe, "_DOCTYPE", re.compile(rb"(?!)"))  # a scan that never matches
    with pytest.raises(DefinitionError, match="DTDs and entity declarations are not allowed"):
        xmlsafe.parse_xml(b'<!DOCTYPE d [<!ENTITY e "x">]><d/>', "x.bpmn")
    with pytest.raises(DefinitionError, match="DTDs and entity declarations are not allowed"):
        xmlsafe.parse_xml(b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd"><d/>', "x.bpmn")
    assert xmlsafe.parse_xml(b'<?xml version="1.0" encoding="utf-8"?><d/>', "x.bpmn").tag == "d"
