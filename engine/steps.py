"""Running a workflow's engine steps until it waits, bounded: the one place `do_engine_steps` is called.

Scripts, gateways and decisions run here until only people, timers or messages remain. One run
may complete at most MAX_ENGINE_TASKS engine tasks in at most MAX_ENGINE_SECONDS: a cycle of
scripts and gateways with no wait state would otherwise loop (and grow the task tree) forever.
Engine actions and moves between versions both run their steps through `run_until_waiting`.
"""

from __future__ import annotations

import time
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError

MAX_ENGINE_PASSES = 1000
MAX_ENGINE_TASKS = 800  # SpiffWorkflow stops seeing tasks 1,000 levels deep
MAX_ENGINE_SECONDS = 1.5


def run_until_waiting(wf: BpmnWorkflow) -> None:
    """Run engine steps (and due timers) until only people, timers or messages remain.

    :raise ScriptError: when the run passes the task or time bound (a loop without a wait state)
    """
    ran, deadline = 0, time.monotonic() + MAX_ENGINE_SECONDS

    def count(_task: Any) -> None:
        nonlocal ran
        ran += 1
        if ran > MAX_ENGINE_TASKS or time.monotonic() > deadline:
            raise ScriptError("runaway_process", count=ran)

    for _ in range(MAX_ENGINE_PASSES):
        wf.do_engine_steps(will_complete_task=count)
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return
    raise ScriptError("process_did_not_rest")
