"""Provisioning people from a provider or the directory, and the admin's group → role mapping.

A person's groups grant the roles their mapping names, at each sign-in and each sync; a role
granted by a group is taken back when the person leaves the group, a role granted by hand
stays. Every grant and revoke goes through engine/people/roles.py (its `role_events` audit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from engine.errors import FieldError, NotFound, ValidationFailed
from engine.models import DirectoryLink, GroupGrant, GroupRole, PersonEvent, User
from engine.people import roles as role_store
from engine.people.users import find_user

GROUP_LENGTH = 500
NAME_LENGTH, EMAIL_LENGTH = 200, 254


@dataclass
class Person:
    """One person as the provider or the directory describes them."""

    username: str
    email: str | None = None
    display_name: str | None = None
    language: str | None = None
    groups: list[str] = field(default_factory=list)
    #: `ldap`: the DN; `oidc`: `issuer|sub`
    external_id: str = ""
    manager_dn: str | None = None


@dataclass
class Known:
    """Everyone, their links and their group-given roles, read in three queries (a sync's start)."""

    users: dict[str, User]
    group_roles: dict[int, set[str]]


def preload(session: Session) -> Known:
    """Read every person (with roles, manager), link and group grant into the session at once."""
    users = session.scalars(select(User).options(selectinload(User.role_rows), selectinload(User.manager)))
    known = Known({u.username: u for u in users}, {})
    list(session.scalars(select(DirectoryLink)))  # into the identity map: `session.get` finds them there
    for grant in session.scalars(select(GroupGrant)):
        known.group_roles.setdefault(grant.user_id, set()).add(grant.role)
    return known


def record(session: Session, at: datetime, actor: str, action: str, username: str, **details: object) -> None:
    """One row of the people audit (person_events)."""
    session.add(PersonEvent(at=at, actor=actor, action=action, username=username, details=details))


def group_keys(group: str) -> set[str]:
    """The names a group matches under: itself and, for a DN, its first value (`cn=Finance,ou=…` → `finance`)."""
    name = group.strip().lower()
    keys = {name}
    if "=" in name:
        first = name.split(",", 1)[0]
        keys.add(first.split("=", 1)[1].strip())
    return keys


def mappings(session: Session) -> list[GroupRole]:
    """Every group → role mapping, by group."""
    return list(session.scalars(select(GroupRole).order_by(GroupRole.group_name, GroupRole.role)))


def add_mapping(session: Session, group: str, role: str, actor: str, now: datetime) -> GroupRole:
    """Map a group to a role (an existing, active role); an existing mapping is kept."""
    group = group.strip()
    if not group or len(group) > GROUP_LENGTH:
        raise ValidationFailed("invalid_group", [FieldError("group", "group_rule")])
    (key,) = role_store.require_active(session, [role])
    row = session.get(GroupRole, (group, key))
    if row is None:
        row = GroupRole(group_name=group, role=key, created_at=now, created_by=actor)
        session.add(row)
        record(session, now, actor, "group_mapped", "", group=group, role=key)
        session.flush()
    return row


def remove_mapping(session: Session, group: str, role: str, actor: str, now: datetime) -> None:
    """Drop a mapping (people keep the role until their next sign-in or sync takes it back)."""
    row = session.get(GroupRole, (group, role))
    if row is None:
        raise NotFound("no_such_mapping", group=group, role=role)
    session.delete(row)
    record(session, now, actor, "group_unmapped", "", group=group, role=role)


def mapping_table(session: Session) -> dict[str, set[str]]:
    """Group name (lower case) → the roles it maps to; read once per sign-in or sync."""
    table: dict[str, set[str]] = {}
    for m in mappings(session):
        table.setdefault(m.group_name.strip().lower(), set()).add(m.role)
    return table


def roles_for(table: dict[str, set[str]], groups: Iterable[str]) -> set[str]:
    """The roles these groups map to."""
    return {role for group in groups for key in group_keys(group) for role in table.get(key, ())}


def apply_groups(
    session: Session,
    user: User,
    groups: Iterable[str],
    actor: str,
    table: dict[str, set[str]] | None = None,
    known: Known | None = None,
) -> tuple[list[str], list[str]]:
    """Grant the roles `groups` map to; take back group-granted roles no group gives any more.

    `table` (the mapping) and `known` (`preload`) are read once by a caller doing many people.

    Returns (granted, revoked) role keys. A role the person already held by hand is left alone."""
    wanted = roles_for(mapping_table(session) if table is None else table, groups)
    if known is not None:
        from_groups = known.group_roles.get(user.id, set())
    else:
        from_groups = set(session.scalars(select(GroupGrant.role).where(GroupGrant.user_id == user.id)))
    granted, revoked = [], []
    for role in sorted(wanted - from_groups):
        if role_store.grant(session, user.username, role, actor):
            session.add(GroupGrant(user_id=user.id, role=role))
            granted.append(role)
    for role in sorted(from_groups - wanted):
        role_store.revoke(session, user.username, role, actor)
        session.execute(delete(GroupGrant).where(GroupGrant.user_id == user.id, GroupGrant.role == role))
        revoked.append(role)
    session.flush()
    if known is not None:
        known.group_roles[user.id] = (from_groups - set(revoked)) | set(granted)
    return granted, revoked


def check_username(username: str | None, source: str) -> str:
    """A usable username from a claim or an attribute; ValidationFailed naming the source otherwise."""
    name = (username or "").strip().lower()  # one person however the provider or directory writes it
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise ValidationFailed("identity_no_username", [FieldError("username", "username_rule")], source=source)
    return name


def upsert(
    session: Session, person: Person, source: str, actor: str, now: datetime, known: Known | None = None
) -> tuple[User, dict]:
    """Create the person, or bring their name, email and language up to date; link them to `source`.

    Returns the user and what changed (field → new value; `created` for a new person). A
    deactivated person stays deactivated: only an admin reactivates. `known`: everyone, read
    beforehand by a caller doing many people (`preload`)."""
    username = check_username(person.username, source)
    person.display_name = (person.display_name or "")[:NAME_LENGTH] or None  # the columns' sizes
    person.email = (person.email or "")[:EMAIL_LENGTH] or None
    user = known.users.get(username) if known is not None else find_user(session, username)
    changes: dict = {}
    if user is None:
        user = User(username=username, display_name=person.display_name or username, created_at=now, active=True)
        user.email, user.language = person.email, person.language or "en"
        session.add(user)
        session.flush()
        if known is not None:  # the same username twice in one read is one person
            known.users[username] = user
        changes = {"created": True, "email": person.email, "display_name": user.display_name}
        role_store.grant(session, username, "requester", actor)
    else:
        for attr, value in (("display_name", person.display_name), ("email", person.email)):
            if value and getattr(user, attr) != value:
                setattr(user, attr, value)
                changes[attr] = value
        if person.language and user.language != person.language:
            user.language = changes["language"] = person.language
    _link(session, user, source, person.external_id or username, now)
    if changes:
        action = "provisioned" if "created" in changes else "updated"
        record(session, now, actor, action, username, source=source, **changes)
    return user, changes


def _link(session: Session, user: User, source: str, external_id: str, now: datetime) -> None:
    link = session.get(DirectoryLink, (user.id, source))
    if link is None:
        session.add(DirectoryLink(user_id=user.id, source=source, external_id=external_id[:1000], last_seen_at=now))
    else:
        link.external_id, link.last_seen_at = external_id[:1000], now


def linked(session: Session, source: str) -> list[tuple[User, DirectoryLink]]:
    """Every person linked to `source`, with the link."""
    query = select(User, DirectoryLink).join(DirectoryLink, DirectoryLink.user_id == User.id)
    return [(u, link) for u, link in session.execute(query.where(DirectoryLink.source == source)).all()]


def language_of(value: str | None) -> str | None:
    """`fr`, `fr-CA`, `French` → `fr`; `en…` → `en`; anything else None (keep the person's)."""
    text = (value or "").strip().lower()
    if text.startswith("fr"):
        return "fr"
    if text.startswith("en"):
        return "en"
    return None
