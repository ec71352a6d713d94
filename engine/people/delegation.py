"""Out-of-office delegation: a person names a delegate for a date range.

While a delegation is active (from `starts_on` to `ends_on` inclusive, office dates, not
revoked), the tasks the person holds, and any new ones, appear in the delegate's inbox and
the delegate may complete them; completions record "on behalf of". It ends by itself. The
rows are the audit: who created it, when, and when it was revoked. Delegation never lets a
requester approve their own request: the engine checks that for every completion.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from engine.models import Delegation, User, UserRole
from engine.people.users import users_with_role

MAX_DAYS = 366


def delegate(
    session: Session,
    user: User,
    to: str,
    starts_on: date,
    ends_on: date,
    reason: str,
    now: datetime,
    created_by: User | None = None,
) -> Delegation:
    """Create a delegation from `user` to the user called `to` (admins may create one for others)."""
    errors = []
    if ends_on < starts_on:
        errors.append(FieldError("ends_on", "last_day_before_first"))
    if (ends_on - starts_on).days > MAX_DAYS:
        errors.append(FieldError("ends_on", "delegation_too_long", limit=MAX_DAYS))
    target = session.scalars(select(User).where(User.username == to)).first()
    if target is None or not target.active:
        errors.append(FieldError("delegate", "choose_active_colleague"))
    elif target.id == user.id:
        errors.append(FieldError("delegate", "not_yourself"))
    if errors or target is None:
        raise ValidationFailed("delegation_has_errors", errors)
    creator = created_by or user
    if creator.id != user.id and "admin" not in creator.roles:
        raise PermissionDenied("delegation_for_others")
    row = Delegation(
        user_id=user.id,
        delegate_id=target.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason.strip()[:500],
        created_at=now,
        created_by_id=creator.id,
    )
    session.add(row)
    session.flush()
    return row


def revoke(session: Session, delegation_id: int, actor: User, now: datetime) -> Delegation:
    """End a delegation early (its owner or an admin)."""
    row = session.get(Delegation, delegation_id)
    if row is None:
        raise NotFound("no_such_delegation")
    if row.user_id != actor.id and "admin" not in actor.roles:
        raise PermissionDenied("delegation_end_forbidden")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def delegations_of(session: Session, user: User, today: date) -> tuple[list[Delegation], list[Delegation]]:
    """(delegations the user gave that nobody ended, even past their last day, so that the owner can
    still end them; delegations given to the user that have not ended yet)."""
    given = session.scalars(
        select(Delegation)
        .where(Delegation.user_id == user.id, Delegation.revoked_at.is_(None))
        .order_by(Delegation.starts_on)
    ).all()
    received = session.scalars(
        select(Delegation)
        .where(Delegation.delegate_id == user.id, Delegation.revoked_at.is_(None), Delegation.ends_on >= today)
        .order_by(Delegation.starts_on)
    ).all()
    return list(given), list(received)


def suggested_delegate(session: Session, user: User) -> str | None:
    """A sensible default: a colleague sharing the user's office roles, else their manager."""
    office_roles = user.roles - {"requester"}
    if office_roles:
        for role in sorted(office_roles):
            for candidate in users_with_role(session, role):
                if candidate.id != user.id:
                    return candidate.username
    return user.manager.username if user.manager else None


def colleagues(session: Session, user: User) -> list[User]:
    """Whom `user` may name as a delegate: other active people with an office role, by name."""
    office = select(UserRole.user_id).where(UserRole.role != "requester")
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), User.id != user.id, User.id.in_(office))
            .order_by(User.display_name)
        )
    )


def active_delegators(delegate_id: int, today: date) -> Select[int]:
    """SQL: the people whose delegation to `delegate_id` runs on `today` (not revoked, within its
    dates): the one window both the inbox (`holders_for`) and request visibility use."""
    return select(Delegation.user_id).where(
        Delegation.delegate_id == delegate_id,
        Delegation.revoked_at.is_(None),
        Delegation.starts_on <= today,
        Delegation.ends_on >= today,
    )


def holders_for(session: Session, user: User, today: date) -> list[int]:
    """The user and everyone whose out-of-office delegation to the user is active `today`."""
    delegators = session.scalars(active_delegators(user.id, today))
    return [user.id, *sorted(set(delegators) - {user.id})]
