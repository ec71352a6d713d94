"""Guessing guard: failed sign-ins and wrong API tokens, counted per key within a time window.

A failure is one `login_failures` row under a key: `user:<name>` and `addr:<address>` for the
sign-in page, `api:<address>` for API tokens. A key that reached its limit of failures within
the window is refused until its oldest failures leave the window. Failures older than the
window are forgotten when the next one is recorded. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.models import LoginFailure

#: an address is shared by many people (an office behind one NAT): it gets this many times a user's limit
ADDRESS_FACTOR = 4
KEY_LENGTH = 120


def sign_in_limits(username: str, address: str | None, max_failures: int) -> dict[str, int]:
    """The keys a sign-in attempt counts under, with their limits: the username and the address."""
    return {
        f"user:{username.lower()}"[:KEY_LENGTH]: max_failures,
        f"addr:{address}"[:KEY_LENGTH]: max_failures * ADDRESS_FACTOR,
    }


def token_limits(address: str | None, max_failures: int) -> dict[str, int]:
    """The key a wrong API token counts under (its client address), with its limit."""
    return {f"api:{address or '-'}"[:KEY_LENGTH]: max_failures}


def too_many(session: Session, limits: Mapping[str, int], now: datetime, window: timedelta) -> bool:
    """Whether any key of `limits` reached its limit of failures within `window` before `now`."""
    counts = session.execute(
        select(LoginFailure.key, func.count())
        .where(LoginFailure.key.in_(list(limits)), LoginFailure.at >= now - window)
        .group_by(LoginFailure.key)
    ).all()
    return any(n >= limits[key] for key, n in counts)


def record_failure(session: Session, keys: Iterable[str], now: datetime, window: timedelta) -> None:
    """Count one failure under each key, forgetting every failure older than `window`."""
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - window))
    session.add_all([LoginFailure(key=key, at=now) for key in keys])
