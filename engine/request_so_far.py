"""The request so far, step by step: what was asked, then each decision with its step, person and date.

Built from the audit trail (`task_completed`, and outside events recorded from a page) and the
forms of the request's version: a step shows its decision and comment as given in that round (a
request returned twice shows both comments), then the other fields of its form. Only fields of a
form are shown, each once (where it was first asked); a form property marked `x-internal: true` is
never shown, nor are variables no form asks for (flags and counters scripts keep), nor empty values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import ParsedDefinition, element_properties
from engine.forms import is_comment_field, is_decision_field
from engine.models import AuditEvent, ProcessInstance, TaskRecord, User
from engine.sources import RECORD_FORM_PROPERTY


@dataclass
class StepRecord:
    """One group of "the request so far": the request itself (`element_id` None) or a step done."""

    element_id: str | None
    name: str | None
    by: str | None
    at: datetime | None
    #: the decision and comment given at this step, in that round (key → value)
    decision: dict[str, Any] = field(default_factory=dict)
    #: the other fields of the step's form, as the request holds them now (key → value)
    fields: dict[str, Any] = field(default_factory=dict)


def shown_keys(schema: Mapping[str, Any] | None) -> list[str]:
    """The fields of a form a reader sees (not those marked `x-internal`)."""
    properties = (schema or {}).get("properties") or {}
    return [k for k, node in properties.items() if not (isinstance(node, dict) and node.get("x-internal"))]


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def request_so_far(
    session: Session, parsed: ParsedDefinition, instance: ProcessInstance, data: Mapping[str, Any]
) -> list[StepRecord]:
    """The request's start form, then each step done, oldest first (`data`: as the page shows it)."""
    seen: set[str] = set()

    def take(schema: Mapping[str, Any] | None, skip: Mapping[str, Any] = {}) -> dict[str, Any]:
        found = {k: data[k] for k in shown_keys(schema) if k not in seen and k not in skip and _filled(data.get(k))}
        seen.update(found)
        return found

    requester = instance.started_by
    steps = [
        StepRecord(
            None,
            None,
            requester.display_name if requester else None,
            instance.created_at,
            fields=take(parsed.form(parsed.start_form)),
        )
    ]
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance.id, AuditEvent.action.in_(("task_completed", "message_received")))
            .order_by(AuditEvent.seq)
        )
    )
    forms = _task_forms(session, [e.task_id for e in events if e.task_id])
    names = _display_names(session, {_actor(e) for e in events})
    for event in events:
        if event.action == "message_received" and event.details.get("channel") != "page":
            continue  # an outside system's message: nobody's decision
        if event.action == "task_completed":
            schema = parsed.form(forms.get(event.task_id or ""))
        else:
            schema = parsed.form(element_properties(parsed, event.element_id or "").get(RECORD_FORM_PROPERTY))
        decision = {
            k: v
            for k, v in (event.details or {}).items()
            if (is_decision_field(k) or is_comment_field(k)) and k in shown_keys(schema) and _filled(v)
        }
        actor = _actor(event)
        steps.append(
            StepRecord(
                event.element_id,
                event.element_name,
                names.get(actor, actor),
                event.at,
                decision,
                take(schema, decision),
            )
        )
    return [s for s in steps if s.decision or s.fields]


def _actor(event: AuditEvent) -> str:
    return str((event.details or {}).get("recorded_by") or event.actor)


def _task_forms(session: Session, task_ids: list[str]) -> dict[str, str | None]:
    if not task_ids:
        return {}
    rows = session.execute(select(TaskRecord.id, TaskRecord.form).where(TaskRecord.id.in_(task_ids)))
    return {task_id: form for task_id, form in rows}


def _display_names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(usernames)))
    return {username: name for username, name in rows}
