"""Records management for personal information: access log, retention, subject access, key rotation.

- Access log: every clear view of a request's personal data (`Engine.reveal`) is a row in
  `sensitive_access`; `access_log` queries it.
- Retention: each process may keep personal data for a period after the request closes
  (`glue.process(..., retention="P2Y")`); `retention_due` is the dry run and `purge` removes the
  personal fields (x-sensitive and x-personal) from the stored state and data snapshot, keeping
  the rest and the audit trail, and audits the purge.
- Subject access: `subject_export` gathers what is held about one person, found by username or
  by the name fields of requests only; `subject_search` records every search (who, whom, why,
  what it found) in `subject_access_searches`, even one that finds nothing.
- Rotation: `rotate_keys` re-encrypts every stored personal value with the current key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import locking
from engine.audit import SYSTEM_ACTOR
from engine.db import Database
from engine.models import (
    AuditEvent,
    ProcessInstance,
    SensitiveAccess,
    SubjectAccessSearch,
    TaskDraft,
    TaskRecord,
    User,
)
from engine.privacy.vault import Classification, personal_paths, redact, seal, transform, unseal
from engine.runtime import Engine
from engine.taskindex import duration_after

PURGED = None  # what a purged field holds afterwards


def access_log(
    session: Session, *, username: str | None = None, instance_id: int | None = None, limit: int = 500
) -> list[SensitiveAccess]:
    """Clear views of personal data, newest first, optionally for one person or request."""
    query = select(SensitiveAccess).join(User, SensitiveAccess.user_id == User.id)
    if username:
        query = query.where(User.username == username)
    if instance_id is not None:
        query = query.where(SensitiveAccess.instance_id == instance_id)
    return list(session.scalars(query.order_by(SensitiveAccess.at.desc(), SensitiveAccess.id.desc()).limit(limit)))


def retention_due(session: Session, engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """The dry run: closed requests past their process's retention period, not yet purged."""
    due = []
    for key, glue_entry in engine.glue.processes.items():
        if not glue_entry.retention:
            continue
        for instance in session.scalars(
            select(ProcessInstance).where(
                ProcessInstance.process_key == key,
                ProcessInstance.status != "running",
                ProcessInstance.ended_at.is_not(None),
                ProcessInstance.purged_at.is_(None),
            )
        ):
            assert instance.ended_at is not None  # the WHERE clause keeps ended requests only
            expires = duration_after(instance.ended_at, glue_entry.retention)
            if expires <= now:
                due.append(
                    {
                        "instance_id": instance.id,
                        "process_key": key,
                        "ended_at": instance.ended_at,
                        "retention": glue_entry.retention,
                        "expired_at": expires,
                    }
                )
    return sorted(due, key=lambda d: d["expired_at"])


def purge(session: Session, engine: Engine, instance: ProcessInstance, actor: str) -> list[str]:
    """Remove the personal fields of one closed request (state and data), audited; return the paths."""
    parsed = engine.definition_for(session, instance)
    personal = parsed.personal_any
    paths = sorted(set(personal_paths(engine.clear_data(instance), personal)))
    drafts = _drafts_of(session, instance.id)
    state = json.loads(instance.state)
    instance.state = json.dumps(transform(state, personal, lambda _value: PURGED))
    data = transform(instance.data or {}, personal, lambda _value: PURGED)
    instance.data = data
    engine.glue.write_summaries(instance, data, engine.clock.now())
    for draft in drafts:
        session.delete(draft)  # unsent form data of a closed request
    now = engine.clock.now()
    instance.purged_at = now
    locking.record_change(
        session,
        instance,
        at=now,
        actor=actor,
        action="personal_data_purged",
        details={"fields": paths, "retention": engine.glue.processes[instance.process_key].retention},
    )
    return paths


def run_retention(db: Database, engine: Engine, actor: str = SYSTEM_ACTOR) -> list[int]:
    """Purge every request due (one transaction each); return the ids of those purged."""
    with db.reading() as session:
        due = [d["instance_id"] for d in retention_due(session, engine, engine.clock.now())]
    purged = []
    for instance_id in due:
        with db.transaction() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is not None and instance.purged_at is None:  # another run may have been first
                purge(session, engine, instance, actor)
                purged.append(instance_id)
    return purged


def subject_search(
    session: Session, engine: Engine, person: str, viewer: User, reason: str, output: str
) -> dict[str, Any]:
    """A subject access search by `viewer`, recorded whatever it finds (`subject_access_searches`);
    `json` and `csv` outputs hold personal data in clear, so each request found also goes in the
    access log as seen by `viewer`."""
    export = subject_export(session, engine, person, viewer if output in ("json", "csv") else None, reason)
    session.add(
        SubjectAccessSearch(
            user_id=viewer.id,
            at=engine.clock.now(),
            person=person[:200],
            reason=reason[:200],
            output=output,
            found=[r["id"] for r in export["requests"]],
        )
    )
    session.flush()
    return export


def subject_searches(session: Session, limit: int = 50) -> list[SubjectAccessSearch]:
    """The latest subject access searches, newest first."""
    query = select(SubjectAccessSearch).order_by(SubjectAccessSearch.at.desc(), SubjectAccessSearch.id.desc())
    return list(session.scalars(query.limit(limit)))


def subject_export(
    session: Session, engine: Engine, person: str, viewer: User | None = None, reason: str = ""
) -> dict[str, Any]:
    """Everything held about one person: a username (their requests, tasks, actions) or a name
    (requests whose name fields hold it, e.g. a visiting delegate). Only usernames and name fields
    are matched, never passport numbers or birth dates (a search must not confirm one). Personal
    fields in clear: with `viewer`, each request's personal fields go in the access log as seen by them."""
    user = session.scalars(select(User).where(User.username == person)).first()
    needle = (user.display_name if user else person).strip().casefold()
    instances = []
    for instance in session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)):
        data = engine.clear_data(instance)
        personal = engine.definition_for(session, instance).personal
        if (user is not None and instance.started_by_id == user.id) or _names_match(data, personal, needle):
            instances.append(
                {
                    "id": instance.id,
                    "process": instance.process_key,
                    "status": instance.status,
                    "outcome": instance.outcome,
                    "created_at": instance.created_at.isoformat(),
                    "summary": instance.summary,
                    "data": data,
                }
            )
            fields = sorted(set(personal_paths(data, personal)))
            if viewer is not None and fields:
                session.add(
                    SensitiveAccess(
                        user_id=viewer.id,
                        instance_id=instance.id,
                        at=engine.clock.now(),
                        reason=f"subject access export ({person}): {reason}"[:200],
                        fields=fields,
                    )
                )
    tasks, actions = [], []
    if user is not None:
        tasks = [
            {
                "id": t.id,
                "instance_id": t.instance_id,
                "step": t.name,
                "status": t.status,
                "created_at": t.created_at.isoformat(),
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
            }
            for t in session.scalars(
                select(TaskRecord)
                .where(
                    or_(
                        TaskRecord.assignee_id == user.id,
                        TaskRecord.claimed_by_id == user.id,
                        TaskRecord.completed_by_id == user.id,
                    )
                )
                .order_by(TaskRecord.created_at)
            )
        ]
        actions = [
            {
                "instance_id": e.instance_id,
                "seq": e.seq,
                "at": e.at.isoformat(),
                "action": e.action,
                "element": e.element_name,
                "details": e.details,
            }
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.actor == user.username).order_by(AuditEvent.at, AuditEvent.id)
            )
        ]
    profile = None
    if user is not None:
        profile = {
            "username": user.username,
            "name": user.display_name,
            "email": user.email,
            "roles": sorted(user.roles),
            "language": user.language,
            "manager": user.manager.username if user.manager else None,
        }
    return {
        "person": person,
        "profile": profile,
        "requests": instances,
        "tasks": tasks,
        "actions": actions,
        "personal_data_views": [
            {"instance_id": a.instance_id, "at": a.at.isoformat(), "reason": a.reason, "fields": a.fields}
            for a in session.scalars(select(SensitiveAccess).where(SensitiveAccess.user_id == user.id))
        ]
        if user is not None
        else [],
    }


def subject_rows(export: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A subject access export as flat rows (section, record, field, value), one per value: its CSV form."""

    def leaves(tree: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield from leaves(value, f"{path}.{key}" if path else str(key))
        elif isinstance(tree, list):
            for index, value in enumerate(tree):
                yield from leaves(value, f"{path}.{index}")
        else:
            yield path, tree

    for field_name, value in leaves(export.get("profile") or {}, ""):
        yield {"section": "profile", "record": export["person"], "field": field_name, "value": value}
    for section in ("requests", "tasks", "actions", "personal_data_views"):
        for index, record in enumerate(export.get(section) or []):
            ref = record.get("id") or record.get("instance_id") or index
            for field_name, value in leaves(record, ""):
                yield {"section": section, "record": ref, "field": field_name, "value": value}


def rotate_keys(db: Database, engine: Engine) -> int:
    """Re-encrypt every stored personal value with the current key (first in WAYPOINT_DATA_KEY),
    state, data snapshot and drafts; values stored in clear before their field was classified get
    encrypted too, and summary lines written with personal data are rewritten without it. One
    transaction per request, audited; returns how many were rewritten."""
    with db.reading() as session:
        ids = list(session.scalars(select(ProcessInstance.id).where(ProcessInstance.purged_at.is_(None))))
    ring = engine.vault.keyring
    rewritten = 0
    for instance_id in ids:
        with db.transaction() as session:
            instance = session.get_one(ProcessInstance, instance_id)
            personal = engine.definition_for(session, instance).personal
            state = json.dumps(_reseal(json.loads(instance.state), personal, ring))
            clear = unseal(instance.data or {}, personal, ring)
            data = seal(clear, personal, ring)
            summaries = engine.glue.summaries_for(instance.process_key, redact(clear, personal), engine.clock.now())
            drafts = [(draft, _reseal(draft.data, personal, ring)) for draft in _drafts_of(session, instance_id)]
            unchanged = state == instance.state and data == instance.data and summaries[0] == instance.summary
            if unchanged and all(new == d.data for d, new in drafts):
                continue
            instance.state, instance.data = state, data
            instance.summary, instance.summary_fr = summaries
            for draft, new in drafts:
                draft.data = new
            locking.record_change(
                session,
                instance,
                at=engine.clock.now(),
                actor=SYSTEM_ACTOR,
                action="personal_data_resealed",
                details={"key": ring.current},
            )
            rewritten += 1
    return rewritten


def _names_match(data: Any, personal: Classification, needle: str) -> bool:
    """Whether a personal name field of `data` (`name`, `traveller_name`...) holds `needle`:
    the whole name for short needles, a part of it from 3 characters."""
    for value in _name_values(data, personal):
        name = value.casefold()
        if name == needle or (len(needle) >= 3 and needle in name):
            return True
    return False


def _name_values(tree: Any, personal: Classification, parent: str | None = None) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if personal.covers(parent, key) and (key == "name" or key.endswith("_name")) and isinstance(value, str):
                yield value
            else:
                yield from _name_values(value, personal, key)
    elif isinstance(tree, list):
        for value in tree:
            yield from _name_values(value, personal, parent)


def _drafts_of(session: Session, instance_id: int) -> list[TaskDraft]:
    return list(session.scalars(select(TaskDraft).join(TaskRecord).where(TaskRecord.instance_id == instance_id)))


def _reseal(tree: Any, personal: Classification, ring: Any) -> Any:
    return seal(unseal(tree, personal, ring), personal, ring)
