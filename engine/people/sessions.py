"""Session generations: sign-out, a new password or a role taken away ends every older session.

The web session is a signed cookie; on its own it cannot be taken back. Each person therefore has
a generation number in the database (`session_generations`, 0 when no row). A session records the
generation it began in, and the web refuses a cookie whose generation is not the current one.
`bump` raises it: the web calls it at sign-out; a flush that changes a person's password hash or
removes one of their roles raises it by itself (the `before_flush` hook below), whichever module
made the change, so no caller can forget.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, event, func, inspect, select, update
from sqlalchemy.orm import Session, joinedload

from engine.models import User, UserRole
from engine.models.operations import SessionGeneration


def generation(session: Session, user_id: int) -> int:
    """The person's current generation (0 before their first bump)."""
    return int(session.scalar(select(SessionGeneration.generation).where(SessionGeneration.user_id == user_id)) or 0)


_GENERATION_OF_USER = select(SessionGeneration.generation).where(SessionGeneration.user_id == User.id)
_SIGNED_IN = (  # built once: every signed-in request reads it
    select(User, func.coalesce(_GENERATION_OF_USER.scalar_subquery(), 0))
    .options(joinedload(User.role_rows))
    .where(User.id == bindparam("user_id"))
)


def signed_in_user(session: Session, user_id: int, began_in: int) -> User | None:
    """The still active person with this id, roles loaded, if their generation is still `began_in`
    (the one their session began in), else None: one statement for the person, roles and generation."""
    found = session.execute(_SIGNED_IN, {"user_id": user_id}).unique().first()
    if found is None or not found[0].active or int(found[1]) != began_in:
        return None
    return found[0]


def bump(session: Session, user_id: int) -> None:
    """End every session of this person that began before now."""
    done = session.execute(
        update(SessionGeneration)
        .where(SessionGeneration.user_id == user_id)
        .values(generation=SessionGeneration.generation + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        session.add(SessionGeneration(user_id=user_id, generation=1))


def _credentials_changed(user: User) -> bool:
    state = inspect(user)
    password = state.attrs.password_hash.history
    roles = state.attrs.role_rows.history
    return bool((password.deleted and password.added) or roles.deleted)


@event.listens_for(Session, "before_flush")
def _bump_on_credential_change(session: Session, flush_context: Any, instances: Any) -> None:
    """A new password or a removed role ends the person's sessions, in the same transaction."""
    users = {u.id for u in session.dirty if isinstance(u, User) and u.id is not None and _credentials_changed(u)}
    users |= {r.user_id for r in session.deleted if isinstance(r, UserRole)}
    with session.no_autoflush:
        for user_id in sorted(users):
            row = session.get(SessionGeneration, user_id)
            if row is None:
                session.add(SessionGeneration(user_id=user_id, generation=1))
            else:
                row.generation = (row.generation or 0) + 1
