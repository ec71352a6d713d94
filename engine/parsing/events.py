"""Start and end events that read every event definition BPMN allows on them.

SpiffWorkflow 3.2's start event parser reads only message, signal, timer and conditional
definitions: an error or escalation start event (the start of an event sub-process) becomes a
"none" start, so the event sub-process starts with its process instead of on its event. Its end
event parser reads no signal definition: a signal end event throws nothing. These parsers also
read those definitions.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    TIMER_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.spiff.parser.event_parsers import SpiffEndEventParser, SpiffStartEventParser

START_EVENT_XPATHS = [
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
]

END_EVENT_XPATHS = [
    MESSAGE_EVENT_XPATH,
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
]


class StartEventParser(SpiffStartEventParser):
    """A start event with any of the definitions a start event may have."""

    def create_task(self) -> Any:
        task = self._create_task(self.get_event_definition(START_EVENT_XPATHS))
        self.spec.start.connect(task)
        return task


class EndEventParser(SpiffEndEventParser):
    """An end event with any of the definitions an end event may have."""

    def create_task(self) -> Any:
        task = self._create_task(self.get_event_definition(END_EVENT_XPATHS))
        task.connect(self.spec.end)
        return task


def read_every_start_event(parser: Any) -> Any:
    """`parser`, reading error and escalation start events and signal end events too."""
    overrides = dict(parser.OVERRIDE_PARSER_CLASSES)
    for tag, cls in ((full_tag("startEvent"), StartEventParser), (full_tag("endEvent"), EndEventParser)):
        overrides[tag] = (cls, parser._get_parser_class(tag)[1])
    parser.OVERRIDE_PARSER_CLASSES = overrides
    return parser
