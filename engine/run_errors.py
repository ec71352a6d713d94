"""SpiffWorkflow's own failures at run time, in a person's words and naming the step.

The library raises plain Python errors (`TypeError`, `KeyError`, ...) for some inputs it does not
expect: a multi-instance task whose collection is missing from the data, a message whose payload
lacks the field its correlation reads. `library_error` recognises an error raised inside
SpiffWorkflow, finds the task it was working on (a local of the failing frames) and returns a
`ScriptError` naming that step; engine.steps.script_errors raises it, so the caller's transaction
rolls back (nothing changes) and the CLI, the API and the pages show `error: ...`.
"""

from __future__ import annotations

import traceback
from types import TracebackType
from typing import Any

from engine.errors import ScriptError

_LIBRARY = "/SpiffWorkflow/"
LIBRARY_ERRORS = (TypeError, KeyError, AttributeError, ValueError, IndexError, LookupError)


def _frames(tb: TracebackType | None) -> list[Any]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _task_of(frames: list[Any]) -> Any:
    """The SpiffWorkflow task the innermost library frames were working on."""
    for frame in reversed(frames):
        for name in ("my_task", "task"):
            task = frame.f_locals.get(name)
            if task is not None and hasattr(task, "task_spec") and hasattr(task, "data"):
                return task
    return None


def _step(task: Any) -> str:
    spec = task.task_spec
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)


def library_error(exc: BaseException) -> ScriptError | None:
    """A ScriptError naming the step for an error raised inside SpiffWorkflow; None for any other error."""
    if not isinstance(exc, LIBRARY_ERRORS):
        return None
    frames = _frames(exc.__traceback__)
    if not frames or _LIBRARY not in frames[-1].f_code.co_filename:
        return None
    task = _task_of(frames)
    where = f"step '{_step(task)}': " if task is not None else ""
    collection = _missing_collection(task)
    if collection is not None:
        detail = f"{where}the list '{collection}' it repeats over is not in the request's data: supply it when starting"
    elif isinstance(exc, KeyError):
        detail = f"{where}the data has no field {exc}; supply it (or correct the diagram's expression)"
    else:
        detail = f"{where}SpiffWorkflow could not run this step ({type(exc).__name__}: {exc})"
    del task, frames
    traceback.clear_frames(exc.__traceback__)  # the frames' locals (sessions, workflows) go now, not at GC
    return ScriptError("script_failed", detail=detail)


def _missing_collection(task: Any) -> str | None:
    """The name of a multi-instance task's input collection when the data lacks it."""
    if task is None:
        return None
    spec = task.task_spec
    data_input = getattr(spec, "data_input", None)
    name = getattr(data_input, "bpmn_id", None) or getattr(data_input, "name", None)
    if name and task.data.get(name) is None:
        return str(name)
    return None
