"""What a waiting task waits for, one event at a time.

SpiffWorkflow keeps an event-based gateway as one waiting task whose event definition is a
`MultipleEventDefinition` holding the events of the catch events after it (and turns those
catch events into "none" events). Waypoint registers each of them (a timer row, a message or a
signal subscription) under the element id of the catch event it leads to, and delivers an event
to the gateway through the one definition it matched: the first to happen wins, and the
gateway's next sync withdraws the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway

MESSAGE = "message"
SIGNAL = "signal"


def wait_parts(task: Any) -> Iterator[tuple[str, EventDefinition]]:
    """(element id, event definition) for each event `task` waits on."""
    spec = task.task_spec
    definition = spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        if isinstance(spec, EventBasedGateway):
            yield from (
                (out.bpmn_id, part) for out, part in zip(spec.outputs, definition.event_definitions, strict=False)
            )
        else:
            yield from ((spec.bpmn_id, part) for part in definition.event_definitions)
        return
    yield spec.bpmn_id, definition


def timer_parts(task: Any) -> list[tuple[str, TimerEventDefinition]]:
    """The timers `task` waits on."""
    return [(element, d) for element, d in wait_parts(task) if isinstance(d, TimerEventDefinition)]


def subscription_kind(definition: EventDefinition) -> str | None:
    """ "message" or "signal" for a definition a subscription row stands for, else None."""
    if isinstance(definition, MessageEventDefinition):
        return MESSAGE
    if isinstance(definition, SignalEventDefinition):
        return SIGNAL
    return None


def definition_for(task: Any, element_id: str, kind: str, name: str) -> EventDefinition | None:
    """The definition of `task`'s wait registered under `element_id` (None: it waits no more)."""
    for element, definition in wait_parts(task):
        if element == element_id and subscription_kind(definition) == kind and definition.name == name:
            return definition
    return None


def trigger_parts(wf: Any) -> list[tuple[str, EventDefinition]]:
    """(start event id, definition) of each message or signal start of the request's event sub-processes:
    the library starts one when the request catches its event, so Waypoint subscribes to them too."""
    parts = []
    for name in getattr(wf.spec.start, "trigger_specs", []):
        spec = wf.subprocess_specs.get(name)
        for start in spec.bpmn_start_events if spec is not None else []:
            if subscription_kind(start.event_definition) is not None:
                parts.append((start.bpmn_id, start.event_definition))
    return parts
