"""Move running instances of a process onto another deployed version of it.

`plan_instance` works out, without writing, whether one instance can move and what would
happen: every step it waits at (user tasks, timers, messages, joins, running call activities,
including inside called processes) must exist in the target version under the same element
id and type, and nothing it has already passed may have been removed (its history must
still load). It then replays the move in memory with SpiffWorkflow's own migration
(`SpiffWorkflow.bpmn.util.diff`): waiting steps keep their task ids, data, claims and timer
due times unless their element changed (a changed timer is re-armed from now); what lies
ahead is predicted again from the new version; and the result must load under the new
version. `migrate_instance` applies one plan inside the caller's transaction (instance
version check first, like every engine action; an audit event on the instance);
`migrate_instances` moves many, each in its own transaction, and logs the batch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import frozen_time
from engine.db import Database
from engine.definitions import FORM_PROPERTY, ParsedDefinition, role_for_lane
from engine.errors import NotFound, ScriptError, WaypointError
from engine.mail import notifications
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, Timer
from engine.runtime import Engine, _lock_instance
from engine.serialization import SERIALIZER_VERSION, dump, load
from engine.taskindex import (
    DEFAULT_DUE,
    TASK_ESCALATION,
    TASK_REMINDER,
    IndexContext,
    clear_waits,
    duration_after,
    sync_all,
    task_properties,
)
from engine.users import find_user

WAITING = TaskState.READY | TaskState.WAITING | TaskState.STARTED
HISTORY = TaskState.COMPLETED | TaskState.CANCELLED
MAX_PASSES = 1000
ACTION = "migrated"
#: SpiffWorkflow's task spec attributes, in the words a process designer uses
ATTRIBUTE_WORDS = {
    "extensions": "properties",
    "event_definition": "timer or message definition",
    "decision_table": "decision table",
    "bpmn_name": "name",
    "lane": "lane",
    "inputs": "incoming flows",
    "outputs": "outgoing flows",
    "cond_task_specs": "conditions",
    "default_task_spec": "default flow",
    "script": "script",
    "typename": "type",
}


@dataclass
class InstancePlan:
    """Whether one instance can move to the target version, and what would happen."""

    instance_id: int
    summary: str
    from_version: int
    to_version: int
    can_move: bool = True
    waiting: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)
    moved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Part:
    """The top-level workflow or one called/embedded process, with its spec diff."""

    workflow: Any
    new_spec: Any
    spec_diff: SpecDiff
    diff: WorkflowDiff


def find_definition(session: Session, key: str, version: int) -> ProcessDefinition:
    """Version `version` of `key`; NotFound otherwise."""
    found = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).first()
    if found is None:
        raise NotFound(f"process '{key}' has no version {version}")
    return found


def candidates(session: Session, target: ProcessDefinition) -> list[ProcessInstance]:
    """Running instances of the target's key on any other version, oldest first."""
    return list(
        session.scalars(
            select(ProcessInstance)
            .where(
                ProcessInstance.process_key == target.key,
                ProcessInstance.status == "running",
                ProcessInstance.definition_id != target.id,
            )
            .order_by(ProcessInstance.id)
        )
    )


def dry_run(
    engine: Engine, session: Session, target: ProcessDefinition, reapply_rules: bool = False
) -> list[InstancePlan]:
    """A plan for every candidate instance; nothing is written."""
    return [plan_instance(engine, session, i, target, reapply_rules)[0] for i in candidates(session, target)]


def plan_instance(
    engine: Engine,
    session: Session,
    instance: ProcessInstance,
    target: ProcessDefinition,
    reapply_rules: bool = False,
) -> tuple[InstancePlan, Any]:
    """(plan, migrated workflow or None): the move replayed in memory, nothing written.

    `reapply_rules`: business rule tasks already passed whose decision table changed are
    evaluated again, with the new table, on the data of the waiting steps (so a new
    threshold applies to requests already under way); otherwise what they decided stands.
    """
    plan = InstancePlan(instance.id, instance.summary, instance.definition.version, target.version)
    if instance.status != "running":
        return _refuse(plan, f"it is {instance.status}, not running"), None
    if instance.definition.key != target.key:
        return _refuse(plan, f"it is a '{instance.definition.key}' request, not '{target.key}'"), None
    old, new = engine.specs.get(session, instance.definition), engine.specs.get(session, target)
    now = engine.clock.now()
    try:
        with frozen_time(now):
            wf = load(instance.state, old, engine.script_engine, engine.vault)
            parts = _parts(wf, new, plan)
            _check_waiting(parts, plan)
            _check_history(parts, plan)
            if plan.reasons:
                return _refuse(plan), None
            before = _snapshot_tasks(wf)
            passed = _passed_changed(parts)
            rules = _passed_rules(parts) if reapply_rules else []
            _move(wf, new, parts)
            for part, spec_name, label in rules:
                _reapply(part, spec_name, label, plan)
            passed = [label for label in passed if label not in {r[2] for r in rules}]
            _settle(wf)
            _describe(plan, before, wf, passed)
            # the moved state must load under the new version
            load(dump(wf, new.personal, engine.vault), new, engine.script_engine, engine.vault)
    except (SpiffWorkflowException, KeyError, ValueError, TypeError, AttributeError) as exc:
        return _refuse(plan, f"the move fails in SpiffWorkflow: {exc}"), None
    except WaypointError as exc:
        return _refuse(plan, str(exc)), None
    return plan, wf


def _refuse(plan: InstancePlan, reason: str | None = None) -> InstancePlan:
    if reason:
        plan.reasons.append(reason)
    plan.can_move = False
    plan.effects = []
    return plan


def _parts(wf: Any, new: ParsedDefinition, plan: InstancePlan) -> list[_Part]:
    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    top = SpecDiff(registry, wf.spec, new.spec)
    parts = [_Part(wf, new.spec, top, WorkflowDiff(wf, top))]
    for sub in wf.subprocesses.values():
        name = sub.spec.name
        if name not in new.subprocess_specs:
            plan.reasons.append(f"it runs process '{name}', which the new version does not include")
            continue
        spec_diff = SpecDiff(registry, sub.spec, new.subprocess_specs[name])
        parts.append(_Part(sub, new.subprocess_specs[name], spec_diff, WorkflowDiff(sub, spec_diff)))
    return parts


def _label(spec: Any) -> str:
    name = getattr(spec, "bpmn_name", None)
    return f"'{name}' ({spec.bpmn_id})" if name else str(getattr(spec, "bpmn_id", None) or spec.name)


def _check_waiting(parts: list[_Part], plan: InstancePlan) -> None:
    for part in parts:
        for task in part.workflow.get_tasks(state=WAITING, skip_subprocesses=True):
            spec = task.task_spec
            if not getattr(spec, "bpmn_id", None):
                continue
            counterpart = part.new_spec.task_specs.get(spec.name)
            changed = part.spec_diff.changed.get(spec, [])
            entry = {
                "element": spec.bpmn_id,
                "name": spec.bpmn_name,
                "process": part.workflow.spec.name,
                "kind": type(spec).__name__,
                "state": TaskState.get_name(task.state).lower(),
                "exists": counterpart is not None,
                "changed": sorted(changed) if counterpart is not None else [],
            }
            same = [w for w in plan.waiting if (w["element"], w["process"]) == (entry["element"], entry["process"])]
            if same:  # a multi-instance step and its instances share one element
                same[0]["name"] = same[0]["name"] or entry["name"]
                continue
            plan.waiting.append(entry)
            if counterpart is None:
                plan.reasons.append(f"it waits at {_label(spec)}, which the new version does not have")
            elif type(counterpart) is not type(spec):
                plan.reasons.append(
                    f"it waits at {_label(spec)}, which the new version turns from {type(spec).__name__} "
                    f"into {type(counterpart).__name__}"
                )


def _check_history(parts: list[_Part], plan: InstancePlan) -> None:
    removed = set()
    for part in parts:
        for task in part.diff.removed:
            if task.has_state(HISTORY) and getattr(task.task_spec, "bpmn_id", None):
                removed.add(_label(task.task_spec))
    for label in sorted(removed):
        plan.reasons.append(f"it has passed {label}, which the new version removes (its history would not load)")


def _snapshot_tasks(wf: Any) -> dict[Any, tuple[str, int, str]]:
    """(element id, state, element name) of every waiting step, by task id."""
    tasks = [t for t in wf.get_tasks(state=WAITING) if getattr(t.task_spec, "bpmn_id", None)]
    names = {t.task_spec.bpmn_id: t.task_spec.bpmn_name for t in tasks if t.task_spec.bpmn_name}
    return {t.id: (t.task_spec.bpmn_id, t.state, names.get(t.task_spec.bpmn_id, t.task_spec.bpmn_id)) for t in tasks}


def _move(wf: Any, new: ParsedDefinition, parts: list[_Part]) -> None:
    """SpiffWorkflow's migration, keeping what unchanged waiting steps already hold."""
    kept = {}
    for part in parts:
        for task in part.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True):
            if task.task_spec not in part.spec_diff.changed:
                kept[task.id] = (task.data, dict(task.internal_data))
    for part in parts:
        migrate_workflow(part.diff, part.workflow, part.new_spec)
    wf.subprocess_specs = new.subprocess_specs
    for part in parts:
        for task in list(part.workflow.tasks.values()):
            if task.id in kept:
                task.data, task.internal_data = kept[task.id]
        _drop_stale_predictions(part)


def _drop_stale_predictions(part: _Part) -> None:
    """Predicted tasks whose element the new version removed (they are predicted again later)."""
    specs = part.new_spec.task_specs
    for task in list(part.workflow.tasks.values()):
        if task.id not in part.workflow.tasks or specs.get(task.task_spec.name) is task.task_spec:
            continue
        if task.has_state(TaskState.PREDICTED_MASK) and task.parent is not None:
            part.workflow._remove_task(task.id)


def _settle(wf: Any) -> None:
    for _ in range(MAX_PASSES):
        wf.do_engine_steps()
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return
    raise ScriptError("the process did not come to rest after the move (a loop without a wait?)")


def _passed_changed(parts: list[_Part]) -> list[str]:
    """Labels of completed steps whose element changed (what they decided stands)."""
    labels = set()
    for part in parts:
        for task in part.workflow.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True):
            if task.task_spec in part.spec_diff.changed and getattr(task.task_spec, "bpmn_id", None):
                labels.add(_label(task.task_spec))
    return sorted(labels)


def _passed_rules(parts: list[_Part]) -> list[tuple[_Part, str, str]]:
    """(part, spec name, label) of passed business rule tasks whose decision table changed."""
    found = {}
    for part in parts:
        for task in part.workflow.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True):
            if "decision_table" in part.spec_diff.changed.get(task.task_spec, []):
                found[(id(part), task.task_spec.name)] = (part, task.task_spec.name, _label(task.task_spec))
    return list(found.values())


def _reapply(part: _Part, spec_name: str, label: str, plan: InstancePlan) -> None:
    """Evaluate the new decision table on every waiting step's data and merge its outputs."""
    spec = part.new_spec.task_specs[spec_name]
    changes: dict[str, tuple[Any, Any]] = {}
    for task in part.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True):
        result = spec.dmnEngine.result(task)
        for key, value in result.items():
            if task.data.get(key) != value:
                changes.setdefault(key, (task.data.get(key), value))
        task.data = {**task.data, **result}
    if changes:
        words = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in sorted(changes.items()))
        plan.effects.append(f"{label} applied again with the new decision table: {words}")
    else:
        plan.effects.append(f"{label} applied again with the new decision table: same result")


def _words(changed: list[str]) -> str:
    return ", ".join(ATTRIBUTE_WORDS.get(name, name.replace("_", " ")) for name in changed)


def _describe(plan: InstancePlan, before: dict[Any, tuple], wf: Any, passed: list[str]) -> None:
    after = _snapshot_tasks(wf)
    for task_id, (element, _state, name) in before.items():
        entry = next((w for w in plan.waiting if w["element"] == element), {})
        if task_id in after:
            note = f" (its {_words(entry['changed'])} changed)" if entry.get("changed") else ""
            plan.effects.append(f"stays at '{name}'{note}")
            task = wf.get_task_from_id(task_id)
            if entry.get("changed") and task.state == TaskState.WAITING and "event_value" in task.internal_data:
                plan.effects.append(f"timer '{name}' re-armed from now: due {task.internal_data['event_value']}")
        else:
            plan.effects.append(f"'{name}' closes")
    for task_id, (_, state, name) in after.items():
        if task_id not in before:
            kind = "new task" if state == TaskState.READY else "now waits at"
            plan.effects.append(f"{kind} '{name}'")
    for label in passed:
        plan.effects.append(f"already past {label}, which changed: what it did then stands")
    if wf.completed:
        plan.effects.append("the request ends")
    plan.effects = list(dict.fromkeys(plan.effects))


# --- applying -----------------------------------------------------------------------------
def migrate_instance(
    engine: Engine,
    session: Session,
    instance_id: int,
    target: ProcessDefinition,
    actor: str,
    reapply_rules: bool = False,
) -> InstancePlan:
    """Move one instance (caller's transaction): version check first, then state, index, audit."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"no request with id {instance_id}")
    plan, wf = plan_instance(engine, session, instance, target, reapply_rules)
    if not plan.can_move:
        return plan
    new = engine.specs.get(session, target)
    now = engine.clock.now()
    _lock_instance(session, instance)
    instance.definition = target
    instance.state = dump(wf, new.personal, engine.vault)
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = now
    data = _data(wf)
    instance.summary = engine.glue.summary_for(instance.process_key, data)
    instance.data = engine.vault.seal(data, new.personal)
    ended = wf.completed
    if ended:
        instance.status, instance.ended_at, instance.outcome = "completed", now, _outcome(wf)
    audit.append(
        session,
        instance,
        at=now,
        actor=actor,
        action=ACTION,
        details={
            "from_version": plan.from_version,
            "to_version": plan.to_version,
            "rules_applied_again": reapply_rules,
            "effects": plan.effects[:50],
        },
    )
    if ended:
        audit.append(session, instance, at=now, actor=actor, action="ended", details={"outcome": instance.outcome})
    session.flush()
    _resync(engine, session, instance, new, wf, now)
    plan.moved = True
    return plan


def _outcome(wf: Any) -> str | None:
    """The name of the end event the workflow finished at (as the engine records it)."""
    ends = [
        t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.workflow is wf and isinstance(t.task_spec, EndEvent)
    ]
    if not ends:
        return None
    last = max(ends, key=lambda t: t.last_state_change)
    return last.task_spec.bpmn_name or last.task_spec.bpmn_id


def _data(wf: Any) -> dict:
    data: dict[str, Any] = {}
    if wf.last_task is not None:
        data.update(wf.last_task.data)
    for task in wf.get_tasks(state=TaskState.READY, manual=True):
        data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def _resync(
    engine: Engine, session: Session, instance: ProcessInstance, new: ParsedDefinition, wf: Any, now: datetime
) -> None:
    def user_id(username: str) -> int | None:
        found = find_user(session, username)
        return found.id if found is not None else None

    def evaluate(expression: str, data: Any) -> Any:
        return engine.script_engine.environment.evaluate(expression, dict(data))

    created = sync_all(session, IndexContext(instance, new, now, user_id, evaluate), wf).created
    created_ids = {row.id for row in created}
    for row in session.scalars(
        select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.status == "ready")
    ):
        if row.id not in created_ids:
            _refresh_row(session, row, wf)
    if instance.status != "running":
        clear_waits(session, instance.id)
    session.flush()
    notifications.after_save(session, engine, instance, new, wf, created, now)


def _refresh_row(session: Session, row: TaskRecord, wf: Any) -> None:
    """An open task row brought level with its element in the new version (name, form, lane, due)."""
    task = wf.get_task_from_id(UUID(row.id))
    props = task_properties(task)
    lane = getattr(task.task_spec, "lane", None)
    row.name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    row.form = props.get(FORM_PROPERTY)
    if role_for_lane(lane) != row.role:  # someone of the old role may hold it: back to the queue
        row.lane, row.role, row.claimed_by_id = lane, role_for_lane(lane), None
    due = _after(row.created_at, props.get("dueIn", DEFAULT_DUE)) or row.due_at
    kinds = (TASK_REMINDER, TASK_ESCALATION)
    timers = session.scalars(select(Timer).where(Timer.task_id == row.id, Timer.kind.in_(kinds))).all()
    escalation = next((t.due_at for t in timers if t.kind == TASK_ESCALATION), None)
    if due != row.due_at or escalation != _after(row.created_at, props.get("escalateAfter")):
        row.due_at = due
        session.execute(delete(Timer).where(Timer.task_id == row.id, Timer.kind.in_(kinds)))
        session.flush()
        notifications.schedule_task_timers(session, row, props)


def _after(start: datetime, duration: str | None) -> datetime | None:
    if not duration:
        return None
    try:
        moment = duration_after(start, duration)
    except Exception:  # a malformed duration: no such timer (as notifications does)
        return None
    return moment if moment > start else None


@dataclass
class MigrationReport:
    """The outcome of a bulk migration: who moved, who stayed and why."""

    key: str
    to_version: int
    moved: list[InstancePlan] = field(default_factory=list)
    left: list[InstancePlan] = field(default_factory=list)


def migrate_instances(
    engine: Engine,
    db: Database,
    target_id: int,
    actor: str,
    instance_ids: list[int] | None = None,
    reapply_rules: bool = False,
) -> MigrationReport:
    """Move the chosen candidates (default: all), each in its own transaction; log the batch."""
    from engine.designer.drafts import log_event

    with db.reading() as s:
        target = s.get(ProcessDefinition, target_id)
        if target is None:
            raise NotFound(f"no process definition {target_id}")
        key, version = target.key, target.version
        ids = [i.id for i in candidates(s, target)]
    if instance_ids is not None:
        wanted = set(instance_ids)
        ids = [i for i in ids if i in wanted]
    report = MigrationReport(key, version)
    for instance_id in ids:
        try:
            with db.transaction() as s:
                target = s.get(ProcessDefinition, target_id)
                plan = migrate_instance(engine, s, instance_id, target, actor, reapply_rules)
        except WaypointError as exc:
            plan = InstancePlan(instance_id, "", 0, version, can_move=False, reasons=[str(exc)])
        (report.moved if plan.moved else report.left).append(plan)
    with db.transaction() as s:
        log_event(
            s,
            key,
            "migrate",
            actor,
            engine.clock.now(),
            version=version,
            definition_id=target_id,
            details={
                "rules_applied_again": reapply_rules,
                "moved": [p.instance_id for p in report.moved],
                "left": [{"instance": p.instance_id, "reasons": p.reasons} for p in report.left],
            },
        )
    return report
