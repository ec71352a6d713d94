"""People and roles: local accounts with scrypt-hashed passwords (werkzeug) and a manager chain."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import FieldError, NotFound, ValidationFailed
from engine.models import User, UserRole
from engine.people.roles import BUILT_IN, SYSTEM, record_grants, require_active

#: Waypoint's own roles, seed data of the roles table (engine/people/roles.py): the lanes of its
#: processes, then the two that own pages. Other roles are rows admins and deploys add.
KNOWN_ROLES = tuple(key for key, _, _ in BUILT_IN)

#: Hashes written before werkzeug's: `scrypt$n$r$p$salt$hash` (base64); rehashed at the next sign-in.
_LEGACY_PREFIX = "scrypt$"


def hash_password(password: str) -> str:
    """werkzeug's scrypt hash with a random salt (`scrypt:n:r:p$salt$hash`)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(user: User, password: str) -> bool:
    """True when `password` is `user`'s. A hash in the old format is replaced by werkzeug's on
    success (the caller's transaction saves it)."""
    stored = user.password_hash
    if not stored:
        return False
    if not stored.startswith(_LEGACY_PREFIX):
        try:
            return check_password_hash(stored, password)
        except ValueError:  # an unknown hash method
            return False
    if not _matches_legacy(stored, password):
        return False
    user.password_hash = hash_password(password)
    return True


def _matches_legacy(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def get_user(session: Session, username: str) -> User:
    """The user called `username`; NotFound otherwise."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("no_such_user", username=username)
    return user


_BY_USERNAME = (  # built once: most requests and actions read someone by name
    select(User).where(User.username == bindparam("username")).options(joinedload(User.role_rows))
)


def find_user(session: Session, username: str | None) -> User | None:
    """The user called `username` with their roles (one query), or None."""
    if not username:
        return None
    return session.scalars(_BY_USERNAME, {"username": username}).unique().first()


def add_user(
    session: Session,
    username: str,
    *,
    now: datetime,
    roles: Iterable[str] = ("requester",),
    display_name: str | None = None,
    email: str | None = None,
    manager: str | None = None,
    password: str | None = None,
    language: str = "en",
    actor: str = SYSTEM,
) -> User:
    """Create a user (or update an existing one with the same username) with exactly these roles,
    each an existing, unretired role (ValidationFailed naming the others); grants are recorded."""
    username = username.strip()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
        raise ValidationFailed("invalid_username", [FieldError("username", "username_rule")])
    wanted = set(require_active(session, roles))
    if language not in ("en", "fr"):
        raise ValidationFailed("unknown_language", [FieldError("language", "language_choices")])
    user = find_user(session, username)
    if user is None:
        user = User(username=username, display_name=display_name or username, created_at=now, active=True)
        session.add(user)
    elif display_name:
        user.display_name = display_name
    if email is not None:
        user.email = email
    user.language = language
    if manager is not None:
        boss = get_user(session, manager)
        if boss.username == username:
            raise ValidationFailed("own_manager", [FieldError("manager", "choose_someone_else")])
        user.manager = boss
    if password is not None:
        user.password_hash = hash_password(password)
    granted, revoked = sorted(wanted - user.roles), sorted(user.roles - wanted)
    user.role_rows = [r for r in user.role_rows if r.role in wanted] + [UserRole(role=r) for r in granted]
    record_grants(session, username, granted, revoked, actor)
    session.flush()
    return user


def users_with_role(session: Session, role: str) -> list[User]:
    """Active users holding `role`."""
    return list(
        session.scalars(
            select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True)).order_by(User.username)
        )
    )


def everyone(session: Session) -> list[User]:
    """Every user, active or not, by username (the admin's people page)."""
    return list(session.scalars(select(User).order_by(User.username)))


def set_language(session: Session, user_id: int, language: str) -> None:
    """Remember a person's page language (`en` or `fr`, which the caller checked)."""
    session.get_one(User, user_id).language = language
