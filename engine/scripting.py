"""The restricted environment in which BPMN scripts, conditions, DMN cells and timers run.

Three layers (see DESIGN.md): every source is checked by AST before it is compiled (no
imports, no names starting with `_`, attributes only from an allow-list, calls only to
allowed builtins and registered helpers); it runs with empty `__builtins__` plus that
allow-list; and it runs under a deadline (CPU time) enforced by a trace function, with every
operation that can grow a value bounded before it runs (engine/sandbox.py), so one line cannot
compute or allocate without limit.
"""

from __future__ import annotations

import ast
import builtins
import calendar
import re
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import feel, sandbox
from engine.clock import current_time
from engine.multi_instance import loop_variables
from engine.sandbox import MAX_SEQUENCE as MAX_SEQUENCE  # re-exported: callers read the bound here
from engine.sandbox import ScriptRejected as ScriptRejected

SCRIPT_FILENAME = "<bpmn-script>"
#: Put before a FEEL expression in the tree SpiffWorkflow parses (a Python comment line, then FEEL).
FEEL_MARK = "#feel\n"
DEFAULT_TIME_LIMIT = 1.0

ALLOWED_BUILTIN_NAMES = (
    "abs all any bool dict enumerate filter float int isinstance len list map max min "
    "range round set sorted str sum tuple zip"
).split()

#: Methods of str/list/dict/set values that scripts may call; every other attribute is refused.
ALLOWED_ATTRIBUTES = frozenset(
    """
    lower upper strip lstrip rstrip split rsplit join replace startswith endswith title
    capitalize isdigit isalpha isalnum isspace zfill find count removeprefix removesuffix
    append extend insert pop remove index sort reverse copy clear
    get keys values items update setdefault
    add discard union intersection difference issubset issuperset
    year month day hour minute second isoformat weekday days
    """.split()
)

_ISO_LITERAL = re.compile(
    r"^(R\d*/)?P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
    r"|^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


class ScriptTimeout(Exception):
    """The script ran past its time limit."""


def is_iso_literal(source: str) -> bool:
    """True when `source` is a bare ISO 8601 duration, interval or date-time."""
    return bool(_ISO_LITERAL.match(source.strip()))


# --- static checks -------------------------------------------------------------------
_FORBIDDEN_NODES: dict[type, str] = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.Global: "'global' is not allowed",
    ast.Nonlocal: "'nonlocal' is not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.FunctionDef: "function definitions are not allowed (use a registered helper)",
    ast.AsyncFunctionDef: "function definitions are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.With: "'with' is not allowed",
    ast.AsyncWith: "'with' is not allowed",
    ast.AsyncFor: "'async for' is not allowed",
}


def check_source(source: str, mode: str = "exec", known_names: set[str] | None = None) -> None:
    """Raise `ScriptRejected` (or SyntaxError) when `source` is not allowed.

    `known_names` (builtins + helpers) makes calls to any other function an error; the
    deploy-time check passes it, the runtime check relies on the empty builtins instead.
    """
    tree = ast.parse(source, filename=SCRIPT_FILENAME, mode=mode)
    _check_tree(tree, known_names)
    problems = sandbox.format_problems(tree) + sandbox.constant_problems(tree)
    if problems:
        raise ScriptRejected("; ".join(problems))


def _check_tree(tree: ast.AST, known_names: set[str] | None) -> None:
    problems: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        reason = _FORBIDDEN_NODES.get(type(node))
        if reason is None and isinstance(node, ast.Name) and node.id.startswith("_"):
            reason = f"the name '{node.id}' is not allowed"
        if reason is None and isinstance(node, ast.Attribute) and node.attr not in ALLOWED_ATTRIBUTES:
            reason = f"the attribute '.{node.attr}' is not allowed"
        if reason is None and isinstance(node, ast.Call) and known_names is not None:
            func = node.func
            if isinstance(func, ast.Name) and func.id not in known_names:
                reason = f"unknown function '{func.id}'"
        if reason is not None:
            problems.append((getattr(node, "lineno", 0), getattr(node, "col_offset", 0), _at(node, reason)))
    if problems:
        raise ScriptRejected("; ".join(message for *_, message in sorted(problems)))


def _at(node: ast.AST, message: str) -> str:
    line = getattr(node, "lineno", None)
    return f"line {line}: {message}" if line else message


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str) -> Any:
    """Check and compile `source` once; later calls reuse the code object."""
    tree: Any = ast.parse(source, filename=SCRIPT_FILENAME, mode=mode)  # a Module or an Expression
    _check_tree(tree, None)
    return compile(sandbox.bound(tree), SCRIPT_FILENAME, mode)


# --- runtime -------------------------------------------------------------------------
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in ALLOWED_BUILTIN_NAMES}
SAFE_BUILTINS.update(sandbox.BOUNDED_BUILTINS)
SAFE_BUILTINS.update({"True": True, "False": False, "None": None})
_INTERNALS = sandbox.INTERNALS


def _run_with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """Run `fn`, stopping any script line that runs after `seconds` of this thread's CPU time.

    CPU time, not wall time: a loaded machine that leaves the thread waiting for a core must not
    fail a one-line condition. The cheap wall clock is checked first; the CPU clock only once it
    has passed (scripts cannot sleep or wait on I/O, so a runaway script uses CPU all along).
    """
    deadline = time.monotonic() + seconds
    cpu_deadline = time.thread_time() + seconds

    def local_trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        if time.monotonic() > deadline and time.thread_time() > cpu_deadline:
            raise ScriptTimeout(f"script ran longer than {seconds:g} s")
        return local_trace

    def global_trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        return local_trace(frame, event, arg)

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        with sandbox.budget():
            return fn()
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment: task data + helpers, nothing else."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]], time_limit: float):
        super().__init__(dict(helpers))
        self.time_limit = time_limit
        self._base_globals = {"__builtins__": SAFE_BUILTINS, **_INTERNALS, **self.globals}

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        if is_iso_literal(expression):
            return expression.strip()
        code = compile_restricted(expression.strip(), "eval")
        scope = {**context, **(external_context or {}), **self._base_globals}
        return _run_with_deadline(lambda: eval(code, scope), self.time_limit)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        clash = set(self.globals).intersection(context)
        if clash:
            raise ScriptRejected(f"task data uses the helper name(s) {sorted(clash)}: rename those fields")
        code = compile_restricted(script, "exec")
        scope = {**context, **(external_context or {}), **self._base_globals}
        _run_with_deadline(lambda: exec(code, scope), self.time_limit)
        hidden = set(self._base_globals) | set(external_context or {})
        for key in [k for k in context if k not in scope]:
            del context[key]
        for key, value in scope.items():
            if key not in hidden and not callable(value):
                context[key] = value
        return True


class WaypointScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose environment is `RestrictedEnvironment`."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]], time_limit: float = DEFAULT_TIME_LIMIT):
        super().__init__(environment=RestrictedEnvironment(helpers, time_limit))

    def validate(self, expression: str) -> None:
        # DMN uses validate() to tell "expression" from "operator + value"; keep it a parse.
        ast.parse(expression)

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        context = {**loop_variables(task), **(external_context or {})}
        if expression.startswith(FEEL_MARK):  # FEEL, marked by engine/parsing/languages.py
            try:
                return feel.evaluate(expression.removeprefix(FEEL_MARK), {**task.data, **context})
            except feel.FeelLimit as exc:
                raise WorkflowTaskException(f"FEEL expression: {exc}", task=task, exception=exc) from exc
        return super().evaluate(task, expression, context or None)

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> Any:
        return super().execute(task, script, {**loop_variables(task), **(external_context or {})})


# --- built-in helpers ------------------------------------------------------------------
def builtin_helpers(office_tz: str = "America/Toronto") -> dict[str, Callable[..., Any]]:
    """Date helpers every process may use; they read the engine's clock, not the wall clock."""
    tz = ZoneInfo(office_tz)

    def today() -> str:
        """The office's current date, ISO."""
        return current_time().astimezone(tz).date().isoformat()

    def now() -> str:
        """The current instant, ISO with offset (UTC)."""
        return current_time().astimezone(UTC).isoformat()

    def add_days(day: str, n: int) -> str:
        """The ISO date `n` days after `day`."""
        return (date.fromisoformat(day[:10]) + timedelta(days=n)).isoformat()

    def add_months(day: str, n: int) -> str:
        """The ISO date `n` calendar months after `day` (clamped to the month's end)."""
        d = date.fromisoformat(day[:10])
        month_index = d.month - 1 + n
        year, month = d.year + month_index // 12, month_index % 12 + 1
        return date(year, month, min(d.day, calendar.monthrange(year, month)[1])).isoformat()

    def days_between(start: str, end: str) -> int:
        """Whole days from `start` to `end` (negative when `end` is earlier)."""
        return (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days

    def at_end_of_day(day: str) -> str:
        """17:00 office time on `day`, as an ISO date-time (for timers)."""
        local = datetime.combine(date.fromisoformat(day[:10]), dtime(17, 0), tz)
        return local.astimezone(UTC).isoformat()

    def duration_after(moment: str, duration: str) -> str:
        """The ISO date-time `duration` (ISO 8601, e.g. P3D) after `moment`."""
        start = datetime.fromisoformat(moment)
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
        parsed = TimerEventDefinition.parse_iso_duration(duration)
        return (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()

    return {
        "today": today,
        "now": now,
        "add_days": add_days,
        "add_months": add_months,
        "days_between": days_between,
        "at_end_of_day": at_end_of_day,
        "duration_after": duration_after,
    }
