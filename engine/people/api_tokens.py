"""Personal and service-account API tokens: random bearer secrets stored only as SHA-256 hashes.

A token reads `wpt_` + 43 URL-safe characters (256 random bits). Its text is returned once, at
creation; the database keeps its SHA-256 (a fast hash is enough for a secret of this entropy,
and it lets a request find its token by an indexed equality lookup) and its first 12 characters
so that people can tell their tokens apart. Revoked or expired tokens authenticate nobody, nor
do tokens of deactivated users.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engine.errors import FieldError, NotFound, ValidationFailed, WaypointError
from engine.models import ApiToken, User

TOKEN_PREFIX = "wpt_"
SHOWN_CHARS = 12
MAX_TOKENS_PER_USER = 50
#: `last_used_at` is written at most this often per token (a write per request would serialize reads).
LAST_USED_RESOLUTION = timedelta(minutes=5)


class InvalidToken(WaypointError):
    """The bearer token is unknown, revoked, expired, or its user is deactivated."""

    status = 401
    kind = "invalid_token"


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the row and the only copy of its text."""

    token: ApiToken
    secret: str


def hash_token(text: str) -> str:
    """The stored form of a token's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    now: datetime,
    expires_in_days: int | None = None,
    created_by: str | None = None,
) -> NewToken:
    """A new token for `user`; its text is in the result and nowhere else."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("token_needs_name", [FieldError("name", "token_name_length")])
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationFailed("invalid_expiry", [FieldError("expires_in_days", "expiry_range")])
    active = [t for t in tokens_of(session, user) if is_active(t, now)]
    if len(active) >= MAX_TOKENS_PER_USER:
        raise ValidationFailed("too_many_tokens", username=user.username, count=len(active))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:SHOWN_CHARS],
        token_hash=hash_token(secret),
        created_at=now,
        created_by=created_by,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def is_active(token: ApiToken, now: datetime) -> bool:
    """Not revoked and not expired."""
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def authenticate(session: Session, text: str, now: datetime) -> tuple[ApiToken, User]:
    """The token and active user behind a bearer text; InvalidToken otherwise."""
    if not text.startswith(TOKEN_PREFIX) or len(text) > 200:
        raise InvalidToken("token_not_waypoint")
    token = session.scalars(
        select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == hash_token(text))
    ).first()
    if token is None or not is_active(token, now):
        raise InvalidToken("token_unknown")
    if not token.user.active:
        raise InvalidToken("token_user_deactivated")
    return token, token.user


def needs_touch(token: ApiToken, now: datetime) -> bool:
    """True when `last_used_at` is old enough to be worth a write."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def touch(session: Session, token_id: int, now: datetime) -> None:
    """Record that the token was used just now."""
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = now


def tokens_of(session: Session, user: User | None = None) -> list[ApiToken]:
    """Tokens of one user (or everyone's), newest first."""
    query = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke(session: Session, token_id: int, actor: User | None, now: datetime) -> ApiToken:
    """Revoke a token (its owner, an admin, or the operator at the command line: `actor=None`).

    Revoking twice is harmless.
    :raise NotFound: no such token, or it belongs to someone else and `actor` is no admin.
    """
    token = session.get(ApiToken, token_id)
    if token is None or (actor is not None and token.user_id != actor.id and "admin" not in actor.roles):
        raise NotFound("no_such_token", id=token_id)
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = now, actor.username if actor is not None else "cli"
    return token


def token_view(token: ApiToken, now: datetime) -> dict:
    """A token as plain data (never its text)."""
    return {
        "id": token.id,
        "user": token.user.username,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "created_by": token.created_by,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "active": is_active(token, now),
    }
