"""The three processes at a mid-flow task: start data and steps from bpmn/scenarios/, driven through the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine import Engine
from engine.designer.simulate import parse_scenarios
from engine.models import TaskRecord, User
from engine.people.users import users_with_role
from engine.queries.tasks import open_task_rows

from .common import BPMN

#: process key -> (scenario name in bpmn/scenarios/<key>.json, the mid-flow task measured)
MIDFLOW = {
    "conference_attendance": ("standard route to the trip report", "UserTask_finance_review"),
    "passport_visa": ("a new passport arrives by message", "UserTask_supply_passport_documents"),
    "delegation_visit": ("a cleared delegation to the post-visit report", "UserTask_host_unit_approval"),
}
PROCESSES = tuple(MIDFLOW)
SHORT = {"conference_attendance": "conference", "passport_visa": "passport", "delegation_visit": "delegation"}


@dataclass(frozen=True)
class Step:
    element: str
    user: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Flow:
    """Start a request of `key`, complete `before`, then `mid` is the task measured."""

    key: str
    starter: str
    start_data: dict[str, Any]
    before: tuple[Step, ...]
    mid: Step


def load_flows() -> dict[str, Flow]:
    """The mid-flow path of each process, from its scenario file."""
    flows = {}
    for key, (name, mid_element) in MIDFLOW.items():
        _, scenarios = parse_scenarios((BPMN / "scenarios" / f"{key}.json").read_text(), f"{key}.json")
        scenario = next(s for s in scenarios if s.name == name)
        before: list[Step] = []
        for raw in scenario.steps:
            if "complete" not in raw:
                raise ValueError(f"{key}: only task completions may come before the mid-flow task")
            step = Step(raw["complete"], raw.get("as"), dict(raw.get("data") or {}))
            if step.element == mid_element:
                flows[key] = Flow(key, scenario.start_as or "jdoe", dict(scenario.data), tuple(before), step)
                break
            before.append(step)
        else:
            raise ValueError(f"{key}: scenario '{name}' never reaches {mid_element}")
    return flows


def actor_for(session: Session, row: TaskRecord) -> str:
    """The task's assignee, else the first person with its role who did not start the request."""
    if row.assignee_id is not None:
        return session.get(User, row.assignee_id).username
    for user in users_with_role(session, row.role or ""):
        if row.role == "requester" or user.id != row.instance.started_by_id:
            return user.username
    raise LookupError(f"nobody may do '{row.name}'")


def drive_to_mid(session: Session, engine: Engine, flow: Flow, instance_id: int) -> tuple[str, str]:
    """Complete the steps before the mid-flow task of a started instance: (mid task id, who does it)."""
    for step in flow.before:
        row = next(r for r in open_task_rows(session, instance_id) if r.element_id == step.element)
        engine.complete(session, row.id, step.user or actor_for(session, row), step.data)
    row = next(r for r in open_task_rows(session, instance_id) if r.element_id == flow.mid.element)
    return row.id, flow.mid.user or actor_for(session, row)


def to_form(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """JSON data as the web form posts it (dotted names, `name.0.field` rows, checked boxes only)."""
    fields: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            fields += to_form(value, f"{name}.")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    fields += to_form(item, f"{name}.{index}.")
                else:
                    fields.append((name, str(item)))
        elif isinstance(value, bool):
            if value:
                fields.append((name, "on"))
        elif value is not None:
            fields.append((name, str(value)))
    return fields
