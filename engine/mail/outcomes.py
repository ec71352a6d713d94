"""The requester hears how their request ended: the outcome email.

`send_outcome_notice` runs after every save (engine/mail/notifications.py's `send_notices`) and, once
per instance, queues an email to the requester when the request has ended: at an end event (its
name, in French from its `name_fr` property, is the outcome: "Rejected by supervisor", "Closed"),
with the last recorded decision's comment as the reason; or cancelled, by the office (with its
reason) or withdrawn by the requester (a confirmation). Approval itself is told by the calendar
invitation (engine/mail/invitations.py); a return for changes by the new-task email of the amend task.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.audit import last_event
from engine.forms import is_comment_field
from engine.mail import bodies, outbox
from engine.mail.compose import MailContext, send_plain
from engine.models import ProcessInstance

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow


def final_end_event(wf: BpmnWorkflow) -> Any | None:
    """The end event task a finished workflow stopped at (its top level; None if none completed)."""
    from SpiffWorkflow.bpmn.specs.defaults import EndEvent
    from SpiffWorkflow.util.task import TaskState

    ends = [
        t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.workflow is wf and isinstance(t.task_spec, EndEvent)
    ]
    return max(ends, key=lambda t: t.last_state_change) if ends else None


def _outcome_names(wf: BpmnWorkflow, instance: ProcessInstance) -> dict[str, str]:
    from engine.taskindex import task_properties

    end = final_end_event(wf)
    english = instance.outcome or ""
    french = task_properties(end).get("name_fr", "") if end is not None else ""
    return {"en": english, "fr": french or english}


def send_outcome_notice(
    session: Session, mail: MailContext, instance: ProcessInstance, wf: BpmnWorkflow, now: datetime
) -> int:
    """Queue the requester's email about how `instance` ended, once; 1 if queued."""
    user = instance.started_by
    if instance.status not in ("completed", "cancelled") or user is None or not user.email or not user.active:
        return 0
    key = f"outcome:{instance.id}"
    if outbox.is_queued(session, key):
        return 0
    context: dict[str, Any] = {
        "instance_id": instance.id,
        "summary": instance.summary_in(bodies.language_of(user.language)),
        "request_url": f"{mail.config.base_url}/requests/{instance.id}",
        "status": instance.status,
    }
    if instance.status == "cancelled":
        event = last_event(session, instance.id, "cancelled")
        actor, details = (event.actor, event.details or {}) if event is not None else ("", {})
        context.update(withdrawn=actor == user.username, actor=actor, reason=details.get("reason", ""))
    else:
        decision = last_event(session, instance.id, "task_completed")
        details = decision.details if decision is not None else {}
        reason = next((str(v) for k, v in details.items() if is_comment_field(k) and v), "")
        context.update(outcome=_outcome_names(wf, instance), reason=reason)
    send_plain(
        session,
        mail.config,
        "outcome",
        user,
        now,
        context,
        auto="auto-generated",
        instance_id=instance.id,
        dedup_key=key,
    )
    return 1
