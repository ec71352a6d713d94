"""Simulate a process draft: scripted decisions run against a throwaway in-memory database.

A scenario starts one request and plays its steps (complete a task with form data, deliver a
message, let time pass so timers fire) through the real `Engine` facade, on an in-memory
SQLite database that holds only the demo org chart (engine/demo/people.py) and the draft's files,
so permissions, form validation, scripts, rules and timers behave as in production while no
real instance is touched. The result tells the path taken (for the diagram), the decisions
made, the requests's final data, and whether the scenario's expectations held.

Scenario files sit next to the BPMN (`bpmn/scenarios/<process key>.json`)::

    {"process": "conference_attendance",
     "start": {"as": "jdoe", "data": {...}},          # defaults for every scenario
     "scenarios": [
       {"name": "supervisor approves, finance rejects",
        "start": {"data": {"funding_source": "other"}},  # merged over the defaults
        "steps": [
          {"complete": "UserTask_supervisor_review", "data": {"supervisor_decision": "approve"}},
          {"complete": "UserTask_finance_review", "as": "fchan", "data": {...}},
          {"message": "passport_issued", "payload": {...}},
          {"wait": "P5D"}],
        "expect": {"status": "completed", "outcome": "Rejected by finance",
                   "visited": [...], "not_visited": [...], "open": [...], "data": {...}}}]}

`as` is optional on a step: the task's assignee, else the first person (by username) with its
role who did not start the request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine import audit
from engine.clock import ManualClock
from engine.db import Database
from engine.definitions import NS, ParsedSources, SourceSet, parse_sources
from engine.demo.people import seed_demo_users
from engine.errors import DefinitionError, ValidationFailed, WaypointError
from engine.mail.compose import MailConfig
from engine.models import Base, ProcessInstance, TaskRecord, User
from engine.people.users import users_with_role
from engine.permissions import bars_requester
from engine.queries.tasks import open_task_rows
from engine.runtime import Engine
from engine.taskindex import duration_after
from engine.versions import store_versions

SCENARIO_FOLDER = "scenarios"
DEFAULT_START = datetime.fromisoformat("2026-11-02T14:00:00+00:00")
MAX_TIMER_ROUNDS = 200
STEP_KINDS = ("complete", "message", "wait", "wait_until")


def scenario_path(key: str) -> str:
    """Where the scenarios of process `key` live, relative to the BPMN folder."""
    return f"{SCENARIO_FOLDER}/{key}.json"


@dataclass
class Scenario:
    """One scripted run: who starts with what data, the steps, and what must hold at the end."""

    name: str
    start_as: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    start_at: datetime = DEFAULT_START


def parse_scenarios(text: str | Mapping[str, Any], path: str = "scenarios.json") -> tuple[str | None, list[Scenario]]:
    """(process key, scenarios) of a scenario file; DefinitionError names what is malformed."""
    try:
        doc = json.loads(text) if isinstance(text, str) else dict(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError("invalid_json_at_line", path=path, line=exc.lineno, detail=exc.msg) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list):
        raise DefinitionError("scenarios_shape", path=path)
    defaults = doc.get("start") or {}
    scenarios = []
    for index, raw in enumerate(doc["scenarios"], 1):
        where = f"{path}: scenario {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
            raise DefinitionError("scenario_needs_name", where=where)
        start = raw.get("start") or {}
        steps = raw.get("steps") or []
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise DefinitionError("scenario_steps_shape", where=where, name=raw["name"])
        for n, step in enumerate(steps, 1):
            kinds = [k for k in STEP_KINDS if k in step]
            if len(kinds) != 1:
                raise DefinitionError(
                    "scenario_step_kind", where=where, name=raw["name"], step=n, kinds=", ".join(STEP_KINDS)
                )
        try:
            start_at = datetime.fromisoformat(raw.get("start_at") or doc.get("start_at") or DEFAULT_START.isoformat())
        except (TypeError, ValueError) as exc:
            raise DefinitionError("scenario_start_at", where=where) from exc
        scenarios.append(
            Scenario(
                name=raw["name"].strip(),
                start_as=start.get("as", defaults.get("as")),
                data={**(defaults.get("data") or {}), **(start.get("data") or {})},
                steps=steps,
                expect=raw.get("expect") or {},
                description=raw.get("description") or "",
                start_at=start_at if start_at.tzinfo else start_at.replace(tzinfo=DEFAULT_START.tzinfo),
            )
        )
    return doc.get("process"), scenarios


@dataclass
class SimulationResult:
    """What happened in one scenario."""

    scenario: str
    ok: bool = False
    error: str | None = None
    failures: list[str] = field(default_factory=list)
    status: str | None = None
    outcome: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    path: list[dict[str, Any]] = field(default_factory=list)
    visited: dict[str, list[str]] = field(default_factory=dict)
    current: dict[str, list[str]] = field(default_factory=dict)
    open: list[dict[str, Any]] = field(default_factory=list)
    trail: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


class Simulator:
    """Runs scenarios of one process against one set of files (checked and parsed once)."""

    def __init__(self, sources: SourceSet, key: str, engine: Engine):
        # `engine`'s glue, key and time zone, on a clock and spec cache of its own, writing no email
        self.engine = engine.derive(clock=ManualClock(DEFAULT_START), mail=MailConfig(enabled=False))
        findings = [f for f in self.engine.check(sources) if f.get("severity") != "warning"]
        if findings:  # what a deploy would refuse (a new role is only a warning)
            raise DefinitionError("files_fail_check", findings)
        self.sources: ParsedSources = parse_sources(sources.files)
        ids = [pid for path in sources.requested for pid in self.sources.executable_ids(path)]
        if key not in ids:
            raise DefinitionError("not_executable_process", key=key, files=", ".join(sources.requested))
        self.key = key
        self.flows = _flows_by_file(self.sources)

    def run(self, scenario: Scenario) -> SimulationResult:
        """Play `scenario` on a fresh in-memory database and report what happened."""
        result = SimulationResult(scenario.name)
        clock = ManualClock(scenario.start_at)
        self.engine.clock = clock
        db = Database("sqlite://")
        try:
            Base.metadata.create_all(db.engine)
            with db.transaction() as s:
                seed_demo_users(s, clock.now(), password=None)
                store_versions(s, self.sources, [self.key], "simulation", clock.now())
            instance_id = self._play(db, clock, scenario, result)
            if instance_id is not None:
                self._collect(db, instance_id, result)
                result.failures = expectation_failures(scenario.expect, result)
            result.ok = result.error is None and not result.failures
        finally:
            db.dispose()
        return result

    # --- playing ------------------------------------------------------------------------
    def _play(self, db: Database, clock: ManualClock, scenario: Scenario, result: SimulationResult) -> int | None:
        try:
            with db.transaction() as s:
                instance_id = self.engine.start(s, self.key, scenario.data, scenario.start_as).id
        except WaypointError as exc:
            result.error = f"start: {exc}"
            return None
        result.steps.append({"n": 0, "action": "start", "actor": scenario.start_as, "ok": True})
        for n, step in enumerate(scenario.steps, 1):
            record: dict[str, Any] = {"n": n, "ok": True}
            try:
                self._step(db, clock, instance_id, step, record)
            except WaypointError as exc:
                record.update(ok=False, error=str(exc))
                result.error = f"step {n}: {exc}"
            result.steps.append(record)
            if result.error:
                break
        return instance_id

    def _step(self, db: Database, clock: ManualClock, instance_id: int, step: dict, record: dict) -> None:
        if "complete" in step:
            element = step["complete"]
            record.update(action="complete", element=element)
            with db.transaction() as s:
                row = _open_task(s, instance_id, element, step.get("index", 0))
                actor = step.get("as") or _default_actor(s, row)
                record.update(name=row.name, actor=actor)
                self.engine.complete(s, row.id, actor, step.get("data") or {})
        elif "message" in step:
            record.update(action="message", element=step["message"])
            with db.transaction() as s:
                self.engine.deliver_message(s, step["message"], step.get("payload") or {}, step.get("correlation"))
        else:
            if "wait" in step:
                record.update(action="wait", element=step["wait"])
                try:
                    clock.set(duration_after(clock.now(), step["wait"]))
                except Exception as exc:
                    raise ValidationFailed("not_a_duration", value=step["wait"]) from exc
            else:
                record.update(action="wait_until", element=step["wait_until"])
                try:
                    clock.set(datetime.fromisoformat(step["wait_until"]))
                except (TypeError, ValueError) as exc:
                    raise ValidationFailed("not_a_datetime_with_offset", value=step["wait_until"]) from exc
            record["fired"] = self._fire_timers(db)
        with db.reading() as s:
            record["open_after"] = [r.element_id for r in open_task_rows(s, instance_id)]

    def _fire_timers(self, db: Database) -> int:
        fired = 0
        for _ in range(MAX_TIMER_ROUNDS):
            with db.reading() as s:
                due = [t.id for t in self.engine.due_timers(s, limit=1000)]
            if not due:
                return fired
            progressed = False
            for timer_id in due:
                with db.transaction() as s:
                    if self.engine.fire_timer(s, timer_id):
                        fired += 1
                        progressed = True
            if not progressed:
                return fired
        raise ValidationFailed("timers_kept_firing")

    # --- reading the outcome ---------------------------------------------------------------
    def _collect(self, db: Database, instance_id: int, result: SimulationResult) -> None:
        with db.reading() as s:
            instance = s.get_one(ProcessInstance, instance_id)
            parsed = self.engine.definition_for(s, instance)
            wf = self.engine.load_workflow(instance, parsed)
            result.status, result.outcome = instance.status, instance.outcome
            result.data = self.engine.clear_data(instance)
            result.open = [
                {
                    "element": r.element_id,
                    "name": r.name,
                    "role": r.role,
                    "assignee": r.assignee.username if r.assignee else None,
                }
                for r in open_task_rows(s, instance_id)
            ]
            result.trail = [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "element": e.element_id,
                    "name": e.element_name,
                    "details": e.details,
                }
                for e in audit.events(s, instance_id)
            ]
        self._path(wf, result)

    def _path(self, wf: Any, result: SimulationResult) -> None:
        visited: dict[str, set[str]] = {}
        current: dict[str, set[str]] = {}
        tasks = [t for t in wf.get_tasks() if getattr(t.task_spec, "bpmn_id", None)]
        live = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        for task in sorted(tasks, key=lambda t: t.last_state_change):
            path = self._file_of(task)
            spec = task.task_spec
            if task.state == TaskState.COMPLETED:
                visited.setdefault(path, set()).add(spec.bpmn_id)
                state = "done"
            elif task.has_state(live):
                current.setdefault(path, set()).add(spec.bpmn_id)
                state = "current"
            else:
                continue
            result.path.append(
                {
                    "element": spec.bpmn_id,
                    "name": spec.bpmn_name,
                    "type": type(spec).__name__,
                    "file": path,
                    "state": state,
                }
            )
            source = _bpmn_ancestor(task)
            flow = self.flows.get(path, {}).get((source, spec.bpmn_id)) if source else None
            if flow:
                visited.setdefault(path, set()).add(flow)
        result.visited = {p: sorted(ids) for p, ids in visited.items()}
        result.current = {p: sorted(ids) for p, ids in current.items()}

    def _file_of(self, task: Any) -> str:
        name = task.workflow.spec.name
        try:
            return self.sources.process_file(name)
        except Exception:  # an embedded sub-process: find the file that holds its element
            for path, root in self.sources.trees.items():
                if root.xpath(f"//*[@id='{name}']"):
                    return path
        return ""


def _flows_by_file(sources: ParsedSources) -> dict[str, dict[tuple[str, str], str]]:
    flows: dict[str, dict[tuple[str, str], str]] = {}
    for path, root in sources.trees.items():
        if path.endswith(".bpmn"):
            for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
                flows.setdefault(path, {})[(flow.get("sourceRef"), flow.get("targetRef"))] = flow.get("id")
    return flows


def _bpmn_ancestor(task: Any) -> str | None:
    parent = task.parent
    while parent is not None and parent.workflow is task.workflow:
        bpmn_id = getattr(parent.task_spec, "bpmn_id", None)
        if bpmn_id:
            return bpmn_id
        parent = parent.parent
    return None


def _open_task(session: Any, instance_id: int, element: str, index: int) -> TaskRecord:
    rows = [r for r in open_task_rows(session, instance_id) if r.element_id == element]
    if len(rows) <= index:
        open_now = ", ".join(r.element_id for r in open_task_rows(session, instance_id)) or "none"
        raise ValidationFailed("simulation_no_open_task", element=element, open=open_now)
    return rows[index]


def _default_actor(session: Any, row: TaskRecord) -> str:
    """The task's assignee, else the first person with its role who may take it (no self-approval)."""
    if row.assignee_id is not None:
        return session.get(User, row.assignee_id).username
    for user in users_with_role(session, row.role or ""):
        if not bars_requester(row) or user.id != row.instance.started_by_id:
            return user.username
    raise ValidationFailed("simulation_nobody_may", task=row.name, role=row.role)


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def expectation_failures(expect: Mapping[str, Any], result: SimulationResult) -> list[str]:
    """Each expectation of a scenario that the result does not meet, in words."""
    failures = []
    for key in ("status", "outcome"):
        if key in expect and expect[key] != getattr(result, key):
            failures.append(f"{key}: expected {expect[key]!r}, got {getattr(result, key)!r}")
    seen = {e for ids in result.visited.values() for e in ids}
    for element in expect.get("visited", []):
        if element not in seen:
            failures.append(f"expected the path to pass {element}")
    for element in expect.get("not_visited", []):
        if element in seen:
            failures.append(f"expected the path not to pass {element}")
    if "open" in expect:
        got = sorted(t["element"] for t in result.open)
        if sorted(expect["open"]) != got:
            failures.append(f"open tasks: expected {sorted(expect['open'])}, got {got}")
    for key, value in (expect.get("data") or {}).items():
        actual = _lookup(result.data, key)
        if actual != value:
            failures.append(f"data {key}: expected {value!r}, got {actual!r}")
    return failures


def run_scenarios(
    sources: SourceSet, text: str, path: str, default_key: str, names: Sequence[str], engine: Engine
) -> list[SimulationResult]:
    """Run the scenario file `text` at `path` (only the scenarios `names`) for its process, else `default_key`."""
    key, scenarios = parse_scenarios(text, path)
    unknown = sorted(set(names) - {s.name for s in scenarios})
    if unknown:
        raise DefinitionError("no_such_scenarios", names=", ".join(repr(u) for u in unknown), path=path)
    simulator = Simulator(sources, key or default_key, engine)
    return [simulator.run(s) for s in scenarios if not names or s.name in names]
