"""The one write path: every writer saves through engine/persist.py or records through
engine/locking.py, so a move between versions writes what an action writes, engine steps run
bounded everywhere, and no other module takes the instance lock or appends to the audit trail."""

from __future__ import annotations

import ast
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

from engine.definitions import SourceSet, read_sources
from engine.designer import move_instances
from engine.glue import GlueRegistry
from engine.models import ProcessInstance, TaskRecord
from tests.conftest import FIXTURES, ROOT, make_engine

WRITE_PATH = {"engine/persist.py", "engine/locking.py", "engine/audit.py"}
PURCHASE = {"title": "Laptop", "amount": 100}
SLOWER_REMINDER = (('name="dueIn" value="P2D"', 'name="dueIn" value="P4D"'),)
#: v2 re-arms the review's late timer at a date already past, and its path now loops without a wait
LOOPY = (
    ("<bpmn:timeDuration>P3D</bpmn:timeDuration>", "<bpmn:timeDate>2020-01-01T00:00:00Z</bpmn:timeDate>"),
    (
        '<bpmn:sequenceFlow id="Flow_late" sourceRef="Timer_review_late" targetRef="Task_escalated_review" />',
        """<bpmn:sequenceFlow id="Flow_late" sourceRef="Timer_review_late" targetRef="Task_spin" />
    <bpmn:scriptTask id="Task_spin" name="Spin"><bpmn:incoming>Flow_late</bpmn:incoming>
      <bpmn:incoming>Flow_again</bpmn:incoming><bpmn:outgoing>Flow_spun</bpmn:outgoing>
      <bpmn:script>spins = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gateway_again" name="Again?" default="Flow_out">
      <bpmn:incoming>Flow_spun</bpmn:incoming><bpmn:outgoing>Flow_again</bpmn:outgoing>
      <bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_spun" sourceRef="Task_spin" targetRef="Gateway_again" />
    <bpmn:sequenceFlow id="Flow_again" sourceRef="Gateway_again" targetRef="Task_spin">
      <bpmn:conditionExpression>True</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_out" sourceRef="Gateway_again" targetRef="Task_escalated_review" />""",
    ),
    (
        "<bpmn:incoming>Flow_late</bpmn:incoming>\n      <bpmn:outgoing>Flow_4</bpmn:outgoing>",
        "<bpmn:incoming>Flow_out</bpmn:incoming>\n      <bpmn:outgoing>Flow_4</bpmn:outgoing>",
    ),
)


def small(*edits: tuple[str, str]) -> SourceSet:
    """The small approval process with each (old, new) text replacement applied to its BPMN."""
    sources = read_sources([FIXTURES / "small"])
    text = sources.files["small_approval.bpmn"]
    for old, new in edits:
        assert old in text, f"fixture text not found: {old!r}"
        text = text.replace(old, new)
    sources.files["small_approval.bpmn"] = text
    return sources


def glue_with_facets() -> GlueRegistry:
    """The small process's glue once it declares report facets (a later release of workflows/)."""
    registry = GlueRegistry()
    registry.process(
        "small_approval",
        summary=lambda data: data.get("title", ""),
        facets=lambda data: {
            "country": "FR",
            "unit": data.get("title"),
            "starts_on": "2027-03-01",
            "ends_on": "2027-03-05",
        },
    )
    return registry


def start(db, engine, deploy: SourceSet | None = None) -> int:
    """One purchase request by jdoe (deploying `deploy` first)."""
    with db.transaction() as s:
        if deploy is not None:
            engine.deploy(s, sources=deploy, deployed_by="admin")
        return engine.start(s, "small_approval", PURCHASE, "jdoe").id


def facets(db, instance_id: int) -> tuple:
    with db.reading() as s:
        i = s.get(ProcessInstance, instance_id)
        return i.definition.version, i.country, i.unit, i.starts_on, i.ends_on


def test_moving_an_instance_keeps_and_writes_its_report_facets(people, clock):
    """A move saves like any action: facets recorded before the move stay, and an instance
    started before its process declared facets gets them from its data (reports find both)."""
    before_facets = make_engine(clock=clock, glue=GlueRegistry())
    engine = make_engine(clock=clock, glue=glue_with_facets())
    legacy = start(people, before_facets, small())
    kept = start(people, engine)
    expected = ("FR", "Laptop", date(2027, 3, 1), date(2027, 3, 5))
    assert facets(people, kept) == (1, *expected) and facets(people, legacy) == (1, None, None, None, None)
    with people.transaction() as s:
        [target] = engine.deploy(s, sources=small(*SLOWER_REMINDER), deployed_by="ddesigner")
    report = move_instances.migrate_instances(engine, people, target.definition_id, "ddesigner")
    assert sorted(p.instance_id for p in report.moved) == sorted([kept, legacy])
    assert facets(people, kept) == (2, *expected)
    assert facets(people, legacy) == (2, *expected)


def test_the_loop_bound_stops_a_loopy_process_during_a_move(people, engine, clock):
    """The new version's re-armed timer is already due and leads into a loop without a wait:
    the dry run and the move stop it quickly, and the instance stays where it was."""
    first = start(people, engine, small())
    with people.reading() as s:
        state = s.get(ProcessInstance, first).state
    with people.transaction() as s:
        [target] = engine.deploy(s, sources=small(*LOOPY), deployed_by="ddesigner")
    began = time.monotonic()
    report = move_instances.migrate_instances(engine, people, target.definition_id, "ddesigner")
    assert time.monotonic() - began < 20
    [left] = report.left
    assert left.instance_id == first and report.moved == []
    assert any("without waiting" in reason for reason in left.reasons), left.reasons
    with people.reading() as s:
        instance = s.get(ProcessInstance, first)
        assert (instance.definition.version, instance.state) == (1, state)
        tasks = s.scalars(select(TaskRecord.element_id).where(TaskRecord.instance_id == first)).all()
        assert tasks == ["Task_review"]


#: the instance lock and the audit trail's appends: only the write path calls them
PRIVATE_WRITES = {"lock_instance", "_lock_instance", "hold_instance", "append_event"}
#: the write path's public door for a change that leaves the workflow alone: engine modules only
#: (claims, escalations, incidents, retention); web, cli and workflows ask the engine instead
RECORD_CHANGE = "record_change"


def _write_path_calls(path: Path) -> list[str]:
    """`file:line name` of every call to the instance lock, `record_change` or the audit trail's
    append in a module (`name` as called, so an alias is reported under its alias)."""
    tree = ast.parse(path.read_text(), str(path))
    audit_modules, bound_names, appends = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"engine", "engine.audit", "engine.locking"}:
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module == "engine" and alias.name == "audit":
                    audit_modules.add(bound)
                elif node.module == "engine.audit" and alias.name == "append":
                    appends.add(bound)
                elif node.module == "engine.locking" and alias.name in PRIVATE_WRITES | {RECORD_CHANGE}:
                    bound_names.add(bound)
        elif isinstance(node, ast.Import):
            audit_modules |= {a.asname for a in node.names if a.name == "engine.audit" and a.asname}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        if (
            (isinstance(func, ast.Name) and (name in bound_names | appends))
            or name in PRIVATE_WRITES | {RECORD_CHANGE}
            or (name == "append" and (owner in audit_modules or owner == "audit"))
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return found


def _outside_write_path(paths: list[Path]) -> list[str]:
    """The calls of `_write_path_calls` that break the rule: any outside engine/persist.py,
    engine/locking.py and engine/audit.py, except `record_change` from another engine module."""
    outside = []
    for path in paths:
        relative = path.relative_to(ROOT)
        if str(relative) in WRITE_PATH or "migrations" in relative.parts:
            continue
        source = path.read_text()
        for call in _write_path_calls(path):
            name = call.split()[1]
            recorded = name == RECORD_CHANGE or f"{RECORD_CHANGE} as {name}" in source
            if not (recorded and relative.parts[0] == "engine"):
                outside.append(call)
    return outside


def test_only_the_write_path_locks_instances_and_appends_audit_events():
    sources = [p for folder in ("engine", "web", "cli", "workflows") for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(sources) > 50
    outside = _outside_write_path(sources)
    assert outside == [], "lock or audit outside engine/persist.py and engine/locking.py:\n" + "\n".join(outside)


def test_the_fitness_scan_sees_a_private_write():
    """The scan itself: a module that locks, holds, appends or audits on its own is reported, and so
    is `record_change` outside the engine; an engine module may record a change."""
    probe = ROOT / "engine" / "_probe_write_path.py"
    web_probe = ROOT / "web" / "_probe_write_path.py"
    probe.write_text(
        "from engine import audit, locking\nfrom engine.locking import lock_instance as lock\n"
        "from engine.locking import append_event, record_change\n\n"
        "def sneak(s, i):\n    lock(s, i)\n    audit.append(s, i, at=None, actor='x', action='y')\n"
        "    locking.hold_instance(s, i)\n    append_event(s, i, None, 'x', {})\n"
        "    record_change(s, i, at=None, actor='x', action='y')\n"
    )
    web_probe.write_text(
        "from engine.locking import record_change as note\nfrom engine import locking\n\n"
        "def sneak(s, i):\n    note(s, i, at=None, actor='x', action='y')\n"
        "    locking.record_change(s, i, at=None, actor='x', action='y')\n"
    )
    try:
        calls = sorted(c.split()[1] for c in _write_path_calls(probe))
        assert calls == ["append", "append_event", "hold_instance", "lock", "record_change"]
        reported = sorted(c.split()[1] for c in _outside_write_path([probe, web_probe]))
        assert reported == ["append", "append_event", "hold_instance", "lock", "note", "record_change"]
    finally:
        probe.unlink()
        web_probe.unlink()
