"""The audit trail: append-only events, hash-chained per instance.

Each event's hash covers its content and the previous event's hash; the instance row holds
the chain's head (sequence number and hash), and since every action updates that row under
its optimistic version check, two actions can never both extend the chain from one head.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.forms import is_decision_field
from engine.models import AuditEvent, ProcessInstance

GENESIS = "0" * 64
#: the actor of what no person did (timers, escalations, incidents, a request ending)
SYSTEM_ACTOR = "system"


def _event_hash(
    prev_hash: str,
    instance_id: int,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    task_id: str | None,
    element_id: str | None,
    element_name: str | None,
    details: Any,
) -> str:
    body = json.dumps(
        [instance_id, seq, at.isoformat(), actor, action, task_id, element_id, element_name, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def entry(
    instance: ProcessInstance,
    *,
    at: datetime,
    actor: str,
    action: str,
    task_id: str | None = None,
    element_id: str | None = None,
    element_name: str | None = None,
    details: dict | None = None,
) -> dict[str, Any]:
    """The column values of the event after the instance's chain head, and move the head (the
    caller writes the row: `append` one, or `insert` a save's events in one statement)."""
    details = details or {}
    at = at.astimezone(UTC)
    seq = (instance.audit_seq or 0) + 1
    prev = instance.audit_head or GENESIS
    digest = _event_hash(prev, instance.id, seq, at, actor, action, task_id, element_id, element_name, details)
    instance.audit_seq = seq
    instance.audit_head = digest
    return dict(
        instance_id=instance.id,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        task_id=task_id,
        element_id=element_id,
        element_name=element_name,
        details=details,
        prev_hash=prev,
        hash=digest,
    )


def append(session: Session, instance: ProcessInstance, **event: Any) -> AuditEvent:
    """Add one event (the keywords of `entry`) after the instance's chain head and move the head."""
    row = AuditEvent(**entry(instance, **event))
    session.add(row)
    return row


def insert(session: Session, entries: list[dict[str, Any]]) -> None:
    """Write `entry` rows (a save's events, in chain order) in one statement; the instance row
    must exist."""
    if entries:
        session.execute(sa_insert(AuditEvent.table()).inline(), entries)  # no id read back


def events(session: Session, instance_id: int) -> list[AuditEvent]:
    """The instance's events, oldest first."""
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq))
    )


def last_event(session: Session, instance_id: int, *actions: str) -> AuditEvent | None:
    """The instance's latest event of one of `actions` (None: there is none)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance_id, AuditEvent.action.in_(actions))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def returned_for_changes(session: Session, instance_id: int) -> AuditEvent | None:
    """The completion that sent the request back for changes, when it is the latest decision (its
    decision field says "return"): the amend task shows its reason at the top."""
    latest = last_event(session, instance_id, "task_completed")
    details = latest.details or {} if latest is not None else {}
    return latest if any(is_decision_field(k) and v == "return" for k, v in details.items()) else None


@dataclass(frozen=True)
class ChainBreak:
    instance_id: int
    seq: int
    problem: str


def verify(session: Session, instance: ProcessInstance) -> list[ChainBreak]:
    """Every place where the instance's chain does not hold (empty list: intact)."""
    breaks = []
    prev, expected_seq = GENESIS, 1
    for e in events(session, instance.id):
        if e.seq != expected_seq:
            breaks.append(ChainBreak(instance.id, e.seq, f"expected event #{expected_seq}, found #{e.seq}"))
        if e.prev_hash != prev:
            breaks.append(ChainBreak(instance.id, e.seq, "previous-hash link broken"))
        digest = _event_hash(
            e.prev_hash,
            e.instance_id,
            e.seq,
            e.at,
            e.actor,
            e.action,
            e.task_id,
            e.element_id,
            e.element_name,
            e.details,
        )
        if digest != e.hash:
            breaks.append(ChainBreak(instance.id, e.seq, "content does not match its hash"))
        prev, expected_seq = e.hash, e.seq + 1
    if instance.audit_head and prev != instance.audit_head:
        breaks.append(ChainBreak(instance.id, expected_seq - 1, "chain head on the instance does not match"))
    return breaks
