"""A person's life in Waypoint: deactivation (they left) and reactivation. Never deletes history.

Deactivating a person: their open tasks go back to their role's queue (or, for a task with no
role, to their manager), each move recorded in the request's audit trail; their claims are
released; their API tokens and delegations end; a `deactivated` row joins the people audit;
and the ITV office gets a notice listing what moved. Their requests, decisions and audit rows stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import locking
from engine.bilingual import french_step_name
from engine.errors import InvalidState
from engine.identity.accounts import record
from engine.mail.compose import MailConfig, send_plain
from engine.models import ApiToken, Delegation, TaskRecord, User
from engine.people import roles
from engine.people.users import get_user

#: who hears about a departure
NOTICE_ROLE = "itv_coordinator"


@dataclass
class Departure:
    """What deactivating one person did."""

    username: str
    moved: list[dict] = field(default_factory=list)
    tokens_revoked: int = 0
    delegations_ended: int = 0


def open_tasks_of(session: Session, user: User) -> list[TaskRecord]:
    """Open tasks assigned to or claimed by `user`."""
    query = select(TaskRecord).where(
        TaskRecord.status == "ready", or_(TaskRecord.assignee_id == user.id, TaskRecord.claimed_by_id == user.id)
    )
    return list(session.scalars(query.order_by(TaskRecord.created_at)))


def _move(session: Session, row: TaskRecord, user: User, actor: str, now: datetime) -> dict:
    """Take one open task off `user`: to its role's queue, else to their manager, else unassigned."""
    if row.claimed_by_id == user.id:
        row.claimed_by_id = None
    target: User | None = None
    if row.assignee_id == user.id:
        manager = user.manager if user.manager is not None and user.manager.active else None
        target = None if row.role else manager
        row.assignee_id = target.id if target else None
    to = target.username if target else (f"queue:{row.role}" if row.role else None)
    locking.record_change(
        session,
        row.instance,
        at=now,
        actor=actor,
        action="task_reassigned",
        task=row,
        details={"from": user.username, "to": to, "reason": "person deactivated"},
    )
    return {
        "task_id": row.id,
        "name": row.name,
        "instance_id": row.instance_id,
        "to": to or "-",
        "element_id": row.element_id,
        "definition_id": row.instance.definition_id,
        "role": row.role if target is None else None,
        "to_name": target.display_name if target else None,
    }


def deactivate(
    session: Session, username: str, actor: str, now: datetime, mail: MailConfig | None = None, reason: str = ""
) -> Departure:
    """Deactivate `username` (see the module); InvalidState when they already are."""
    user = get_user(session, username)
    if not user.active:
        raise InvalidState("person_already_inactive", username=username)
    departure = Departure(username)
    departure.moved = [_move(session, row, user, actor, now) for row in open_tasks_of(session, user)]
    user.active = False
    tokens = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor)
        .execution_options(synchronize_session=False)
    )
    departure.tokens_revoked = int(tokens.rowcount or 0)  # type: ignore[attr-defined]
    ended = session.execute(
        update(Delegation)
        .where(or_(Delegation.user_id == user.id, Delegation.delegate_id == user.id), Delegation.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    departure.delegations_ended = int(ended.rowcount or 0)  # type: ignore[attr-defined]
    record(
        session,
        now,
        actor,
        "deactivated",
        username,
        reason=reason[:500],
        moved=departure.moved,
        tokens_revoked=departure.tokens_revoked,
        delegations_ended=departure.delegations_ended,
    )
    if mail is not None and mail.enabled:
        _notify(session, mail, user, departure, actor, now)
    session.flush()
    return departure


def _notify(session: Session, mail: MailConfig, user: User, departure: Departure, actor: str, now: datetime) -> None:
    context = {
        "person_name": user.display_name,
        "username": user.username,
        "actor": actor,
        "people_url": f"{mail.base_url}/admin/people/{user.username}",
    }
    role_names = roles.role_names(session)
    officers = [officer for officer in roles.members(session, NOTICE_ROLE) if officer.email]
    steps_fr = {  # read from the deployed files once, whoever reads the notice in French
        m["task_id"]: french_step_name(session, m["definition_id"], m["element_id"])
        for m in departure.moved
        if any(officer.language == "fr" for officer in officers)
    }
    for officer in officers:
        moved = [_moved_line(m, officer.language, role_names, steps_fr) for m in departure.moved]
        send_plain(session, mail, "person_left", officer, now, {**context, "moved": moved})


def _moved_line(
    moved: dict, language: str, role_names: dict[str, tuple[str, str]], steps_fr: dict[str, str | None]
) -> dict:
    """One moved task as the reader of the notice names it: the step and where it went, in `language`."""
    french = language == "fr"
    name = (french and steps_fr.get(moved["task_id"])) or moved["name"]
    to = moved["to_name"] or "-"
    if moved["role"]:
        queue = role_names.get(moved["role"], (moved["role"], moved["role"]))[1 if french else 0]
        to = f"file {queue}" if french else f"{queue} queue"
    return {"name": name, "instance_id": moved["instance_id"], "to": to}


def reactivate(session: Session, username: str, actor: str, now: datetime) -> User:
    """Let a deactivated person sign in again (their old tokens stay revoked)."""
    user = get_user(session, username)
    if user.active:
        raise InvalidState("person_already_active", username=username)
    user.active = True
    record(session, now, actor, "reactivated", username)
    return user
