"""Plan moving one running instance onto another deployed version of its process, in memory.

`plan_instance` works out, without writing, whether one instance can move and what would
happen: every step it waits at (user tasks, timers, messages, joins, running call activities,
including inside called processes) must exist in the target version under the same element
id and type, and nothing it has already passed may have been removed (its history must
still load). It then replays the move in memory with SpiffWorkflow's own migration
(`SpiffWorkflow.bpmn.util.diff`): waiting steps keep their task ids, data, claims and timer
due times unless their element changed (a changed timer is re-armed from now); what lies
ahead is predicted again from the new version, engine steps run bounded as in every engine
action (engine/steps.py); and the result must load under the new version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.clock import frozen_time
from engine.definitions import ParsedDefinition
from engine.errors import WaypointError
from engine.models import ProcessDefinition, ProcessInstance
from engine.runtime import Engine
from engine.serialization import dump, load
from engine.steps import run_until_waiting

WAITING = TaskState.READY | TaskState.WAITING | TaskState.STARTED
HISTORY = TaskState.COMPLETED | TaskState.CANCELLED
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
            run_until_waiting(wf)
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
