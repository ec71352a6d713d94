"""Where requests wait with nobody's task open: at a message (the passport office, an embassy) or a
timer (a trip's end), for the reports page's "Where requests are waiting" beside the open tasks.

A message wait is counted at its catch event, with the role that may record it (`recordedBy`). A
timer is counted only for a request that waits at nothing else (a boundary timer sits on a task
counted already); its catch event is found in the stored workflow state (its task's spec name),
one JSON read per such request, not a workflow load. How long: since the request last changed.
"""

from __future__ import annotations

import json
import statistics
import zlib
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.definitions import ParsedDefinition, SpecCache, element_properties
from engine.models import InstanceState, MessageSubscription, ProcessDefinition, ProcessInstance, TaskRecord, Timer
from engine.models.states import decompress
from engine.queries.reports import ReportFilter
from engine.request_status import spec_name
from engine.taskindex import BPMN_TIMER
from engine.waits import MESSAGE


def waits_by_step(session: Session, specs: SpecCache, flt: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Rows shaped like `reports.open_by_step`'s (`kind` "message" or "timer"; `overdue` 0), most waiting first."""
    groups: dict[tuple[int, str, str], list[datetime]] = defaultdict(list)
    running = [ProcessInstance.status == "running", *flt.instance_conditions()]
    messages = (
        select(ProcessInstance.definition_id, MessageSubscription.element_id, ProcessInstance.updated_at)
        .join(ProcessInstance, MessageSubscription.instance_id == ProcessInstance.id)
        .where(MessageSubscription.kind == MESSAGE, *running)
    )
    for definition_id, element_id, since in session.execute(messages):
        groups[(definition_id, element_id, "message")].append(since)
    open_task = exists().where(TaskRecord.instance_id == ProcessInstance.id, TaskRecord.status == "ready")
    message = exists().where(MessageSubscription.instance_id == ProcessInstance.id)
    timers = (
        select(ProcessInstance.definition_id, InstanceState.state, ProcessInstance.updated_at, Timer.task_id)
        .join(ProcessInstance, Timer.instance_id == ProcessInstance.id)
        .join(InstanceState, InstanceState.instance_id == ProcessInstance.id)
        .where(Timer.kind == BPMN_TIMER, ~open_task, ~message, *running)
    )
    for definition_id, state, since, task_id in session.execute(timers):
        timer_element = _spec_name(state, task_id)
        if timer_element:
            groups[(definition_id, timer_element, "timer")].append(since)
    return _rows(session, specs, groups, now)


def _spec_name(state: bytes, task_id: str) -> str | None:
    try:
        return spec_name(json.loads(decompress(state)), task_id) or None
    except (ValueError, zlib.error):  # a state that does not read: no name rather than no report
        return None


def _rows(
    session: Session, specs: SpecCache, groups: dict[tuple[int, str, str], list[datetime]], now: datetime
) -> list[dict[str, Any]]:
    parsed: dict[int, ParsedDefinition] = {}
    rows = []
    for (definition_id, element_id, kind), since in groups.items():
        if definition_id not in parsed:
            definition = session.get(ProcessDefinition, definition_id)
            assert definition is not None  # the instance's own version
            parsed[definition_id] = specs.get(session, definition)
        spec = parsed[definition_id]
        props = element_properties(spec, element_id)
        waits = [(now - s).total_seconds() / 86400 for s in since]
        rows.append(
            {
                "process_key": spec.key,
                "process": spec.name,
                "step": _element_name(spec, element_id),
                "element_id": element_id,
                "role": props.get("recordedBy") if kind == "message" else None,
                "kind": kind,
                "open": len(since),
                "overdue": 0,
                "oldest_days": round(max(waits), 1),
                "median_days": round(statistics.median(waits), 1),
            }
        )
    return sorted(rows, key=lambda r: -r["oldest_days"])


def _element_name(spec: ParsedDefinition, element_id: str) -> str:
    for process_spec in [spec.spec, *spec.subprocess_specs.values()]:
        task_spec = process_spec.task_specs.get(element_id)
        if task_spec is not None:
            return getattr(task_spec, "bpmn_name", None) or element_id
    return element_id
