"""Who will approve: the route a start form's data would take, before it is submitted.

The preview runs the process as a start would, in memory and with nothing written: the start
event's data goes in, scripts and decision tables (engine/dmn) run until the first person's step,
exactly as `Engine.start` runs them. From there it walks the diagram: a gateway whose conditions
the data decides (`needs_ethics_review`, set by the route table) is decided by them; a gateway a
person decides (`supervisor_decision == "approve"`) follows the way forward (not an end event, not
back to an earlier step). An approval is a step a person's decision follows; the preview names
each: the person it would go to (the requester's manager for `assignee="manager"`) or its role.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins import EndEventMixin as EndEvent
from SpiffWorkflow.bpmn.specs.mixins import ExclusiveGatewayMixin, UserTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.clock import frozen_time
from engine.definitions import spec_properties
from engine.errors import WaypointError
from engine.models import User
from engine.people.roles import role_names
from engine.people.users import find_user
from engine.steps import run_until_waiting, script_errors
from engine.task_owners import Declared, Resolver, declarations, resolve
from engine.versions import latest_definition

#: a diagram walk stops after this many elements (loops are cut by `seen` anyway)
MAX_STEPS = 200
_FORWARD_LOOKAHEAD = 4


@dataclass
class Approver:
    """One approval on the route: the step's name (both languages) and who holds it."""

    step: str
    step_fr: str
    person: str | None = None
    role: str | None = None
    role_fr: str | None = None


@dataclass
class Route:
    """The preview: `complete` is False when the form does not yet hold what the rules need."""

    complete: bool
    approvers: list[Approver] = field(default_factory=list)
    reason: str | None = None
    reason_fr: str | None = None


def preview_route(engine: Any, session: Session, key: str, data: Mapping[str, Any], requester: User) -> Route:
    """The approvals a request of `key` with `data`, filed by `requester`, would go through."""
    parsed = engine.specs.get(session, latest_definition(session, key))
    requester = session.get(User, requester.id) or requester
    initial = {**data, "process_key": key, "requester": requester.username, "requester_name": requester.display_name}
    try:
        with frozen_time(engine.clock.now()), script_errors():
            wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=engine.script_engine)
            wf.get_next_task(state=TaskState.READY).data.update(initial)
            run_until_waiting(wf)
    except (WaypointError, Exception):  # noqa: BLE001 - a form half filled in: the rules cannot run yet
        return Route(complete=False)
    ready = [t for t in wf.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTaskMixin)]
    if not ready:
        return Route(complete=True)
    values = dict(ready[0].data)
    walk = _Walk(engine, values, {_key(t.task_spec) for t in wf.get_tasks(state=TaskState.COMPLETED)})
    for spec in _from_here_up(ready[0]):
        walk.from_spec(spec)
    owners = declarations(parsed.content_hash, parsed.files)
    names = role_names(session)
    resolver = Resolver(session, requester, values, lambda name: _user_id(session, name))
    return Route(
        complete=True,
        approvers=[_approver(session, spec, owners, names, resolver) for spec in walk.approvals],
        reason=values.get("route_reason") if isinstance(values.get("route_reason"), str) else None,
        reason_fr=values.get("route_reason_fr") if isinstance(values.get("route_reason_fr"), str) else None,
    )


def _onward(spec: Any) -> list[Any]:
    """The steps after `spec` on the request's way: not its boundary events (a timer's follow-up is
    an escalation, not an approval) nor the join SpiffWorkflow adds after them."""
    return [s for s in spec.outputs if not isinstance(s, BoundaryEvent) and not s.name.endswith(".BoundaryEventJoin")]


def _key(spec: Any) -> tuple[str, str]:
    """A step by its process and id: a called process may reuse its caller's ids."""
    return (spec._wf_spec.name, spec.name)


def _from_here_up(task: Any) -> list[Any]:
    """Where the route goes on from a waiting task: its step, then, when it waits inside a called
    process or a sub-process (each visitor's screening), the steps after that call in each caller."""
    specs = [task.task_spec]
    workflow = task.workflow
    while getattr(workflow, "parent_task_id", None) is not None:
        caller = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        workflow = caller.workflow
        while caller.parent is not None and not caller.task_spec.outputs:  # one instance of a multi-instance call
            caller = caller.parent
        specs += _onward(caller.task_spec)
    return specs


def _user_id(session: Session, username: str) -> int | None:
    found = find_user(session, username)
    return found.id if found is not None and found.active else None


def _approver(
    session: Session, spec: Any, owners: Mapping[str, Declared], names: Mapping, resolver: Resolver
) -> Approver:
    props = spec_properties(spec)
    name = spec.bpmn_name or spec.bpmn_id
    declared = owners.get(spec.bpmn_id, Declared())
    found = resolve(declared, props.get("assignee"), getattr(spec, "lane", None), resolver)
    approver = Approver(step=name, step_fr=props.get("name_fr") or name)
    if found.assignee_id is not None:
        person = session.get(User, found.assignee_id)
        approver.person = person.display_name if person is not None else None
    elif found.role:
        english, french = names.get(found.role, (found.role, found.role))
        approver.role, approver.role_fr = english, french or english
    return approver


class _Walk:
    """A walk of the diagram from a step, recording the steps a person's decision follows."""

    def __init__(self, engine: Any, data: dict[str, Any], done: set[tuple[str, str]]) -> None:
        self.engine, self.data, self.done = engine, data, done
        self.approvals: list[Any] = []
        self.seen: set[tuple[str, str]] = set()

    def from_spec(self, start: Any) -> None:
        queue = [start]
        while queue and len(self.seen) < MAX_STEPS:
            spec = queue.pop(0)
            if _key(spec) in self.seen:
                continue
            self.seen.add(_key(spec))
            queue.extend(self.next_specs(spec))

    def next_specs(self, spec: Any) -> list[Any]:
        if isinstance(spec, UserTaskMixin):
            nexts = _onward(spec)
            if any(isinstance(s, ExclusiveGatewayMixin) and self.undecided(s) for s in nexts):
                self.approvals.append(spec)
            return nexts
        if isinstance(spec, ExclusiveGatewayMixin):
            return [self.choose(spec)]
        if getattr(spec, "dmnEngine", None) is not None:
            self.decide(spec)
        if not isinstance(spec, EndEvent):
            return _onward(spec)
        return []

    def decide(self, spec: Any) -> None:
        """Run a business rule task's decision on the data as it stands, as the request will (its
        outputs then choose the way at the gateways after it); a rule that cannot run yet decides nothing."""
        step = SimpleNamespace(data=self.data, workflow=SimpleNamespace(script_engine=self.engine.script_engine))
        with suppress(Exception):  # inputs not known before the request runs: a person decides later
            self.data.update(spec.dmnEngine.result(step))

    def outcome(self, condition: Any) -> bool | None:
        """A condition's value over the data; None when a person's decision (a name not yet set) decides it."""
        if condition is None:
            return None
        try:
            return bool(self.engine.evaluate(condition.args[0], self.data))
        except Exception:  # noqa: BLE001 - an unknown name: decided later by a person
            return None

    def undecided(self, gateway: Any) -> bool:
        return any(c is not None and self.outcome(c) is None for c, _ in gateway.cond_task_specs)

    def choose(self, gateway: Any) -> Any:
        specs = gateway._wf_spec.task_specs
        taken = [specs[name] for c, name in gateway.cond_task_specs if c is not None and self.outcome(c)]
        if taken:
            return taken[0]
        undecided = [specs[name] for c, name in gateway.cond_task_specs if c is not None and self.outcome(c) is None]
        forward = [s for s in undecided if not self.ends_or_returns(s)]
        if forward:
            return forward[0]
        default = gateway.default_task_spec
        return specs[default] if default else (undecided or [specs[n] for _, n in gateway.cond_task_specs])[0]

    def ends_or_returns(self, spec: Any, depth: int = 0) -> bool:
        """Does this way end the request or lead back to a step already on the route?"""
        if isinstance(spec, EndEvent) or _key(spec) in self.seen or _key(spec) in self.done:
            return True
        if depth >= _FORWARD_LOOKAHEAD or len(spec.outputs) != 1:
            return False
        return self.ends_or_returns(spec.outputs[0], depth + 1)
