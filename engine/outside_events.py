"""Outside events recorded from a page: a person records what a message wait is waiting for.

A travel office rarely has an API to the passport office or an embassy. A message catch event (a
receive task, an intermediate or boundary catch) that carries `recordedBy` (a role) may be
recorded from the request page by that role's members: "Record passport received", with a form
(`recordForm`, a JSON Schema file of the version) validated like any task's. The recording is
delivered as the message itself, with the wait's correlation values, so the diagram cannot tell it
from the outside system's; the audit event names the person and the channel. `waitingFor` (and
`waitingFor_fr`) names the outside party for "Where it stands"; `recordLabel` (`_fr`) the button.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import permissions
from engine.clock import frozen_time
from engine.core import EngineCore
from engine.definitions import element_properties
from engine.errors import ConcurrentUpdate, NotFound, WaypointError
from engine.events import deliver
from engine.forms import validate_submission
from engine.locking import optimistic_action
from engine.models import MessageSubscription, ProcessInstance, User
from engine.sources import RECORD_FORM_PROPERTY
from engine.steps import find_task, run_until_waiting, script_errors
from engine.waits import MESSAGE


@dataclass(frozen=True)
class OutsideWait:
    """A message the request waits for, as the request page shows it."""

    subscription_id: int
    element_id: str
    message: str
    #: the outside party, by language ("en", "fr"); empty when the diagram does not say
    waiting_for: dict[str, str]
    #: the record button's words, by language
    label: dict[str, str]
    #: the role whose members may record it (None: only the outside system can)
    role: str | None
    #: the form of what is recorded (a JSON Schema file of the version), or None
    form: str | None


def _bilingual(props: Mapping[str, str], name: str, default: str) -> dict[str, str]:
    english = props.get(name) or default
    return {"en": english, "fr": props.get(f"{name}_fr") or english}


class OutsideEvents(EngineCore):
    """The request page's part of message waits: which there are, and recording one."""

    def outside_waits(self, session: Session, instance: ProcessInstance) -> list[OutsideWait]:
        """The message waits of a running request, in the order they were registered."""
        if instance.status != "running":
            return []
        parsed = self.definition_for(session, instance)
        query = (
            select(MessageSubscription)
            .where(MessageSubscription.instance_id == instance.id, MessageSubscription.kind == MESSAGE)
            .order_by(MessageSubscription.id)
        )
        waits = []
        for sub in session.scalars(query):
            props = element_properties(parsed, sub.element_id)
            waits.append(
                OutsideWait(
                    subscription_id=sub.id,
                    element_id=sub.element_id,
                    message=sub.message_name,
                    waiting_for=_bilingual(props, "waitingFor", ""),
                    label=_bilingual(props, "recordLabel", "Record what arrived"),
                    role=props.get("recordedBy") or None,
                    form=props.get(RECORD_FORM_PROPERTY) or None,
                )
            )
        return waits

    def may_record(self, actor: User, instance: ProcessInstance, wait: OutsideWait) -> WaypointError | None:
        """Why `actor` may not record this wait (None: they may)."""
        return permissions.refusal(permissions.check_record, actor, instance, wait.role)

    def record_form(self, session: Session, instance: ProcessInstance, wait: OutsideWait) -> dict[str, Any] | None:
        """The JSON Schema of what recording `wait` asks for (None: nothing but the button)."""
        return self.definition_for(session, instance).form(wait.form) if wait.form else None

    @optimistic_action
    def record_outside_event(
        self, session: Session, instance_id: int, subscription_id: int, user: User | str, data: Mapping[str, Any]
    ) -> ProcessInstance:
        """Record, as `user`, the message wait `subscription_id` of the request: checked, validated,
        delivered as its message with the wait's correlation values, and audited."""
        instance = self._instance(session, instance_id)
        actor = self._user(session, user)
        wait = next((w for w in self.outside_waits(session, instance) if w.subscription_id == subscription_id), None)
        if wait is None:
            raise NotFound("no_such_wait", id=subscription_id)
        permissions.check_record(actor, instance, wait.role)
        schema = self.record_form(session, instance, wait)
        clean = validate_submission(schema or {"properties": {}}, data)
        sub = session.get(MessageSubscription, subscription_id)
        assert sub is not None  # listed by outside_waits just now, in this transaction
        correlation = json.loads(sub.correlation or "{}")
        payload = {**(correlation if isinstance(correlation, dict) else {}), **clean}
        details = {"recorded_by": actor.username, "channel": "page"}
        return self.deliver_to_subscription(session, sub, payload, actor.username, details)

    def deliver_to_subscription(
        self,
        session: Session,
        sub: MessageSubscription,
        payload: Mapping[str, Any],
        actor: str,
        details: Mapping[str, Any] | None = None,
    ) -> ProcessInstance:
        """Deliver `payload` to one waiting subscription, run the instance until it waits again and
        save it with a `message_received` event (`details` added to it): every delivery ends here."""
        instance = self._instance(session, sub.instance_id)
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            task = find_task(wf, sub.task_id)
            if task is None or not deliver(task, sub.element_id, "message", sub.message_name, payload):
                raise ConcurrentUpdate("message_moved_on")
            run_until_waiting(wf)
        received = {"message": sub.message_name, "correlation": json.loads(sub.correlation), **(details or {})}
        event = dict(
            action="message_received", element=(sub.element_id, sub.message_name), task_id=sub.task_id, details=received
        )
        self._save(session, instance, parsed, wf, now, actor, [event])
        return instance
