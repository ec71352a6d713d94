"""Camunda's multi-instance variables, for expressions evaluated in or on a multi-instance activity.

`nrOfInstances` (instances in all), `nrOfActiveInstances` (started, not finished),
`nrOfCompletedInstances` (finished) and, inside one instance, `loopCounter` (its 0-based index).
SpiffWorkflow keeps the same facts in the multi-instance task's bookkeeping; the script engine
passes these names to completion conditions, scripts and conditions as read-only context.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState


def loop_variables(task: Any) -> dict[str, int]:
    """The four variables for `task` (a multi-instance task or one of its instances), else none."""
    if task is None:
        return {}
    owner, instance = task, None
    if not isinstance(task.task_spec, MultiInstanceTask):
        parent = task.parent
        if parent is None or not isinstance(parent.task_spec, MultiInstanceTask):
            return {}
        owner, instance = parent, task
    children = [c for c in owner.children if c.task_spec.name == owner.task_spec.task_spec]
    finished = [c for c in children if c.has_state(TaskState.FINISHED_MASK)]
    info = owner.task_spec.task_info(owner)
    total = len(info.get("completed", [])) + len(info.get("running", [])) + len(info.get("future", []))
    found = {
        "nrOfInstances": max(total, len(children)),
        "nrOfActiveInstances": len(children) - len(finished),
        "nrOfCompletedInstances": len(finished),
    }
    if instance is not None:
        found["loopCounter"] = children.index(instance) if instance in children else 0
    return found
