"""Running a workflow's engine steps until it waits, bounded: the one place `do_engine_steps` is called.

Scripts, gateways and decisions run here until only people, timers or messages remain. One run
may complete at most MAX_ENGINE_TASKS engine tasks in at most MAX_ENGINE_SECONDS: a cycle of
scripts and gateways with no wait state would otherwise loop (and grow the task tree) forever.
Engine actions and moves between versions both run their steps through `run_until_waiting`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError
from engine.run_errors import LIBRARY_ERRORS, library_error
from engine.scripting import ScriptRejected, ScriptTimeout

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


def find_task(wf: BpmnWorkflow, task_id: str) -> Any:
    """The workflow task with id `task_id`, or None."""
    try:
        return wf.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return None


@contextmanager
def script_errors() -> Iterator[None]:
    """Turn a refused script or a SpiffWorkflow failure inside the block into a ScriptError."""
    try:
        yield
    except (ScriptRejected, ScriptTimeout) as exc:
        raise ScriptError("script_refused", detail=str(exc)) from exc
    except SpiffWorkflowException as exc:
        bound = _bound_in(exc)
        if bound is not None:  # a condition or a decision cell passed a bound: say which, and why
            raise ScriptError("script_refused", detail=f"{_where(exc)}{bound} ({type(bound).__name__})") from exc
        raise ScriptError("script_failed", detail=describe_spiff_error(exc)) from exc
    except LIBRARY_ERRORS as exc:  # the library's own TypeError/KeyError...: name the step (engine/run_errors.py)
        translated = library_error(exc)
        if translated is None:
            raise
        raise translated from exc


def _bound_in(exc: BaseException) -> Exception | None:
    """The refusal or timeout SpiffWorkflow wrapped (it keeps only the class name), if any."""
    seen: BaseException | None = exc
    for _ in range(10):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(seen, ScriptRejected | ScriptTimeout):
            return seen
    return None


def _where(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    if task is None:
        return ""
    spec = task.task_spec
    return f"step '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', spec.name)}': "


def describe_spiff_error(exc: SpiffWorkflowException) -> str:
    """One line saying where (which step) and what SpiffWorkflow reported."""
    where = _where(exc)
    notes = " ".join(getattr(exc, "notes", []) or getattr(exc, "__notes__", []) or [])
    inner = getattr(exc, "error_type", "") or ""
    message = str(exc.args[0]) if exc.args else str(exc)
    return (
        f"{where}{message}{' (' + inner + ')' if inner and inner not in message else ''}{' ' + notes if notes else ''}"
    )
