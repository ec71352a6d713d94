"""What the admin's people pages read and change: search, a person's profile, manager and language.

Every change is audited: roles through engine/people/roles.py (`role_events`), the rest in the
people audit (`person_events`); deactivation through engine/people/lifecycle.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import FieldError, ValidationFailed
from engine.identity.accounts import record
from engine.models import ApiToken, Delegation, DirectoryLink, GroupGrant, PersonEvent, RoleEvent, User
from engine.people.users import get_user

PAGE = 50
LANGUAGES = ("en", "fr")


@dataclass
class Profile:
    """One person as the admin's page shows them."""

    user: User
    reports: list[User]
    links: list[DirectoryLink]
    group_roles: set[str]
    delegations_given: list[Delegation]
    delegations_received: list[Delegation]
    tokens: list[ApiToken]
    history: list[tuple[datetime, str, str, dict]] = field(default_factory=list)


def search(session: Session, text: str = "", *, active: bool | None = None, page: int = 1) -> tuple[list[User], int]:
    """People whose username, name or email contains `text` (case-blind), by name; and how many in all."""
    query = select(User)
    if text.strip():
        like = f"%{text.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(User.username).like(like),
                func.lower(User.display_name).like(like),
                func.lower(User.email).like(like),
            )
        )
    if active is not None:
        query = query.where(User.active.is_(active))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(User.display_name, User.username).limit(PAGE).offset((page - 1) * PAGE))
    return list(rows), total


def profile(session: Session, username: str, today: date) -> Profile:
    """Everything the person page shows; NotFound when there is no such person."""
    user = get_user(session, username)
    current = [Delegation.revoked_at.is_(None), Delegation.ends_on >= today]
    return Profile(
        user=user,
        reports=list(session.scalars(select(User).where(User.manager_id == user.id).order_by(User.display_name))),
        links=list(session.scalars(select(DirectoryLink).where(DirectoryLink.user_id == user.id))),
        group_roles=set(session.scalars(select(GroupGrant.role).where(GroupGrant.user_id == user.id))),
        delegations_given=list(session.scalars(select(Delegation).where(Delegation.user_id == user.id, *current))),
        delegations_received=list(
            session.scalars(select(Delegation).where(Delegation.delegate_id == user.id, *current))
        ),
        tokens=list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))),
        history=history(session, user.username),
    )


def history(session: Session, username: str, limit: int = 50) -> list[tuple[datetime, str, str, dict]]:
    """The person's audit, newest first: (when, who, what, details) from both people and role events."""
    people = session.scalars(
        select(PersonEvent).where(PersonEvent.username == username).order_by(PersonEvent.id.desc()).limit(limit)
    )
    roles = session.scalars(
        select(RoleEvent).where(RoleEvent.username == username).order_by(RoleEvent.id.desc()).limit(limit)
    )
    rows = [(e.at, e.actor, e.action, dict(e.details or {})) for e in people]
    rows += [(e.at, e.actor, f"role_{e.action}", {"role": e.role}) for e in roles]
    return sorted(rows, key=lambda r: r[0], reverse=True)[:limit]


def set_manager(session: Session, username: str, manager: str | None, actor: str, now: datetime) -> User:
    """Give `username` this manager (None: no manager); never themselves, never someone who reports to them."""
    user = get_user(session, username)
    boss = get_user(session, manager) if manager else None
    seen, walker = set(), boss
    while walker is not None and walker.id not in seen:
        if walker.id == user.id:
            raise ValidationFailed("own_manager", [FieldError("manager", "choose_someone_else")])
        seen.add(walker.id)
        walker = walker.manager
    before = user.manager.username if user.manager else None
    if before != (boss.username if boss else None):
        user.manager = boss
        record(session, now, actor, "manager_changed", username, before=before, after=boss.username if boss else None)
    return user


def set_language(session: Session, username: str, language: str, actor: str, now: datetime) -> User:
    """The person's language for pages and email (`en` or `fr`)."""
    if language not in LANGUAGES:
        raise ValidationFailed("unknown_language", [FieldError("language", "language_choices")])
    user = get_user(session, username)
    if user.language != language:
        record(session, now, actor, "language_changed", username, before=user.language, after=language)
        user.language = language
    return user
