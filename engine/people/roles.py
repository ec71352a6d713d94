"""Roles as data: a stable key, names in both languages, created by admins and by deploys.

A lane, a `candidateGroups` entry or a `potentialOwner` names a role by a normalised key
("Finance Team" → `finance_team`, `role_key`). Waypoint's own roles are seed data (migration
0007 writes them; `BUILT_IN` keeps them known on a database emptied by hand): they may be
renamed, never retired. Renaming keeps the key; retiring keeps the grants (a retired role is
offered no new grant and no new lane). Every change and every grant or revoke is a `role_events` row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine import locking
from engine.clock import current_time
from engine.errors import FieldError, InvalidState, NotFound, ValidationFailed
from engine.models import Incident, Role, RoleEvent, TaskRecord, User, UserRole

#: Waypoint's own roles (key, English, French): the lanes of its processes and the two page roles.
BUILT_IN: tuple[tuple[str, str, str], ...] = (
    ("requester", "Requester", "Demandeur"),
    ("supervisor", "Supervisor", "Superviseur"),
    ("finance", "Finance", "Finances"),
    ("ethics", "Ethics", "Éthique"),
    ("senior_management", "Senior management", "Haute direction"),
    ("itv_coordinator", "ITV coordinator", "Coordonnateur VIV"),
    ("passport_officer", "Passport officer", "Agent des passeports"),
    ("security", "Security", "Sécurité"),
    ("host_unit", "Host unit", "Unité hôte"),
    ("liaison_officer", "Liaison officer", "Agent de liaison"),
    ("process_designer", "Process designer", "Concepteur de processus"),
    ("admin", "Administrator", "Administrateur"),
)
BUILT_IN_KEYS = frozenset(key for key, _, _ in BUILT_IN)
KEY_LENGTH = 40
NAME_LENGTH = 100
#: the incident kind of a task sent to the fallback queue because nobody could work its role
UNWORKABLE = "unworkable"
#: who acts when the system does (a deploy creating a lane's role, a seed)
SYSTEM = "system"


@dataclass(frozen=True)
class RoleInfo:
    """One role as pages, the API and the CLI show it."""

    key: str
    name_en: str
    name_fr: str
    built_in: bool
    retired: bool
    members: int = 0

    def name(self, language: str = "en") -> str:
        return self.name_fr if language == "fr" and self.name_fr else self.name_en


def role_key(name: str | None) -> str:
    """The stable key of a role name: "Finance Team" → `finance_team`, "Légal" → `legal`.

    Lower case, accents dropped, every run of other characters one underscore; at most 40
    characters. Empty when the name holds no letter or digit."""
    if not name:
        return ""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")[:KEY_LENGTH].rstrip("_")


def _event(session: Session, actor: str, action: str, key: str, username: str | None = None, **details: str) -> None:
    session.add(RoleEvent(at=current_time(), actor=actor, action=action, role=key, username=username, details=details))


def _seed(key: str) -> Role | None:
    for seed_key, en, fr in BUILT_IN:
        if seed_key == key:
            return Role(key=key, name_en=en, name_fr=fr, built_in=True, created_by=SYSTEM)
    return None


def _row(session: Session, key: str) -> Role | None:
    """The role's row; a built-in role missing from the table is written back from its seed."""
    row = session.get(Role, key)
    if row is None and (seed := _seed(key)) is not None:
        seed.created_at = current_time()
        session.add(seed)
        session.flush()
        return seed
    return row


def get_role(session: Session, key: str) -> Role:
    """The role with this key (retired or not); NotFound naming it otherwise."""
    row = _row(session, role_key(key) or key)
    if row is None:
        raise NotFound("no_such_role", role=key)
    return row


def _check_names(name_en: str, name_fr: str | None) -> tuple[str, str]:
    name_en, name_fr = (name_en or "").strip(), (name_fr or "").strip()
    if not name_en or len(name_en) > NAME_LENGTH or len(name_fr) > NAME_LENGTH:
        raise ValidationFailed("invalid_role_name", [FieldError("name_en", "role_name_rule")])
    if not role_key(name_en):
        raise ValidationFailed("invalid_role_name", [FieldError("name_en", "role_name_rule")])
    return name_en, name_fr or name_en


def ensure_role(session: Session, key: str, name_en: str, name_fr: str | None = None, *, actor: str = SYSTEM) -> Role:
    """The role `key` (normalised), created with these names when it does not exist yet.

    An existing role keeps its names; a retired one stays retired."""
    key = role_key(key)
    name_en, name_fr = _check_names(name_en, name_fr)
    if not key:
        raise ValidationFailed("invalid_role_name", [FieldError("name_en", "role_name_rule")])
    row = _row(session, key)
    if row is None:
        row = Role(
            key=key, name_en=name_en, name_fr=name_fr, built_in=False, created_at=current_time(), created_by=actor
        )
        session.add(row)
        _event(session, actor, "created", key, name_en=name_en, name_fr=name_fr)
        session.flush()
    return row


def create_role(session: Session, name_en: str, name_fr: str | None, actor: str, key: str | None = None) -> Role:
    """A new role (an admin's): its key from `key` or the English name; refused when it exists."""
    new_key = role_key(key or name_en)
    if new_key and _row(session, new_key) is not None:
        raise InvalidState("role_exists", role=new_key)
    return ensure_role(session, new_key or name_en, name_en, name_fr, actor=actor)


def ensure_roles_for(session: Session, names: Iterable[str], actor: str = SYSTEM) -> list[str]:
    """Create a role for every lane or group name that has none yet (a deploy); the keys created."""
    created = []
    for name in names:
        key = role_key(name)
        if key and _row(session, key) is None:
            ensure_role(session, key, name.strip(), actor=actor)
            created.append(key)
    return created


def missing_roles(session: Session, names: Iterable[str]) -> list[str]:
    """Of these lane or group names, the keys no role has yet (the check's "new role" warnings)."""
    keys = sorted({role_key(n) for n in names if role_key(n)})
    if not keys:
        return []
    existing = set(session.scalars(select(Role.key).where(Role.key.in_(keys)))) | BUILT_IN_KEYS
    return [k for k in keys if k not in existing]


def rename(session: Session, key: str, name_en: str, name_fr: str | None, actor: str) -> Role:
    """New names for a role; its key (and so every lane, grant and task that names it) stays."""
    row = get_role(session, key)
    name_en, name_fr = _check_names(name_en, name_fr)
    before = {"from_en": row.name_en, "from_fr": row.name_fr}
    row.name_en, row.name_fr = name_en, name_fr
    _event(session, actor, "renamed", row.key, **before, name_en=name_en, name_fr=name_fr)
    return row


def retire(session: Session, key: str, actor: str) -> Role:
    """Retire a role: no new grant, no new lane; grants held stay until revoked. Built-ins never retire."""
    row = get_role(session, key)
    if row.built_in:
        raise InvalidState("role_built_in", role=row.key)
    if row.retired_at is None:
        row.retired_at = current_time()
        _event(session, actor, "retired", row.key)
    return row


def require_active(session: Session, keys: Iterable[str]) -> list[str]:
    """The keys of these roles, each an existing, unretired role; ValidationFailed naming the others."""
    wanted = sorted({role_key(k) or k for k in keys})
    bad = [k for k in wanted if (row := _row(session, k)) is None or row.retired_at is not None]
    if bad:
        usable = ", ".join(r.key for r in roles(session) if not r.retired)
        raise ValidationFailed(
            "unknown_roles", [FieldError("roles", "known_roles", roles=usable)], roles=", ".join(bad)
        )
    return wanted


def grant(session: Session, username: str, key: str, actor: str) -> bool:
    """Give a person a role (recorded); False when they already held it."""
    user = _user(session, username)
    (role,) = require_active(session, [key])
    if role in user.roles:
        return False
    user.role_rows.append(UserRole(role=role))
    _event(session, actor, "granted", role, user.username)
    session.flush()
    _bring_back(session, role, actor)
    return True


def _bring_back(session: Session, key: str, actor: str) -> None:
    """Open tasks that went to the fallback queue because nobody could work `key` come back to its
    queue once someone (not their requester) holds it; their incidents close, on the audit trail."""
    waiting = select(Incident).where(
        Incident.kind == UNWORKABLE, Incident.status == "open", Incident.timer_kind == key[:20]
    )
    now = current_time()
    members = active_members(session, key)
    for incident in session.scalars(waiting):
        row = session.get(TaskRecord, incident.task_id) if incident.task_id else None
        if (
            row is None
            or f"role '{key}'" not in incident.error
            or not anyone_but_requester(key, members, row.requester_id)
        ):
            continue
        incident.status, incident.resolved_at, incident.resolved_by = "retried", now, actor
        if row.status == "ready" and row.assignee_id is None and row.claimed_by_id is None:
            row.role = key
        details = {"incident": incident.id, "kind": UNWORKABLE, "role": key}
        locking.record_change(
            session, row.instance, at=now, actor=actor, action="incident_retried", task=row, details=details
        )


def revoke(session: Session, username: str, key: str, actor: str) -> bool:
    """Take a role from a person (recorded); False when they did not hold it."""
    user = _user(session, username)
    role = role_key(key) or key
    kept = [r for r in user.role_rows if r.role != role]
    if len(kept) == len(user.role_rows):
        return False
    user.role_rows = kept
    _event(session, actor, "revoked", role, user.username)
    session.flush()
    return True


def record_grants(session: Session, username: str, granted: Iterable[str], revoked: Iterable[str], actor: str) -> None:
    """Audit rows for roles a caller gave or took directly (a person created with their roles)."""
    for key in granted:
        _event(session, actor, "granted", key, username)
    for key in revoked:
        _event(session, actor, "revoked", key, username)


def set_roles(session: Session, user: User, keys: Iterable[str], actor: str) -> None:
    """Make `user`'s roles exactly `keys` (each active), granting and revoking through the audit."""
    wanted = set(require_active(session, keys)) if keys else set()
    for role in sorted(user.roles - wanted):
        revoke(session, user.username, role, actor)
    for role in sorted(wanted - user.roles):
        grant(session, user.username, role, actor)


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("no_such_user", username=username)
    return user


def roles(session: Session, *, include_retired: bool = True) -> list[RoleInfo]:
    """Every role (built-in ones even before their row is written) with its count of active members."""
    rows = {r.key: r for r in session.scalars(select(Role))}
    counts = dict(
        session.execute(
            select(UserRole.role, func.count()).join(User).where(User.active.is_(True)).group_by(UserRole.role)
        ).all()
    )
    out = [
        RoleInfo(r.key, r.name_en, r.name_fr, r.built_in, r.retired_at is not None, counts.get(r.key, 0))
        for r in rows.values()
    ]
    out += [RoleInfo(k, en, fr, True, False, counts.get(k, 0)) for k, en, fr in BUILT_IN if k not in rows]
    return sorted((r for r in out if include_retired or not r.retired), key=lambda r: r.key)


def role_names(session: Session) -> dict[str, tuple[str, str]]:
    """(English, French) name of every role by key: how pages name a queue or a lane."""
    return {r.key: (r.name_en, r.name_fr) for r in roles(session)}


def members(session: Session, key: str) -> list[User]:
    """Active people holding the role, by username."""
    role = role_key(key) or key
    query = select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True)).order_by(User.username)
    return list(session.scalars(query))


def history(session: Session, key: str, limit: int = 50) -> list[RoleEvent]:
    """The role's latest audit rows, newest first."""
    query = select(RoleEvent).where(RoleEvent.role == key).order_by(RoleEvent.at.desc(), RoleEvent.id.desc())
    return list(session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class Member:
    """An active person holding a role, read as columns: what routing a task to the role's queue
    and writing its emails need, and no more."""

    id: int
    display_name: str
    email: str | None
    language: str


_USERS, _USER_ROLES = User.table(), UserRole.table()
#: on the tables' columns: a Core statement, which runs in half the time of the same select of
#: mapped attributes (42 → 19 µs: no ORM compile and result processing for plain columns)
_ACTIVE_MEMBERS = (
    select(_USERS.c.id, _USERS.c.display_name, _USERS.c.email, _USERS.c.language)
    .join(_USER_ROLES, _USER_ROLES.c.user_id == _USERS.c.id)
    .where(_USER_ROLES.c.role == bindparam("role"), _USERS.c.active.is_(True))
    .order_by(_USERS.c.username)
)


def active_members(session: Session, key: str) -> list[Member]:
    """Active people holding the role, by username, in one indexed query (built once: every new
    queue task asks)."""
    return [Member(*found) for found in session.execute(_ACTIVE_MEMBERS, {"role": key})]


def anyone_but_requester(key: str | None, members: Iterable[Member], requester_id: int | None) -> bool:
    """Does someone other than the requester hold the role (so its queue is worked)?"""
    if not key:
        return False
    if key == "requester" or requester_id is None:
        return any(True for _ in members)
    return any(m.id != requester_id for m in members)
