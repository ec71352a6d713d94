"""Guessing guard: failed sign-ins and wrong API tokens slow down the one who fails, never others.

A failure is one `login_failures` row under a key. The sign-in page counts under
`pair:<username>|<address>`: one account guessed from one address. After `free` failures within
the window, that pair waits before its next try, and the wait doubles with each further failure
up to `cap` (`wait`); once the wait is over the right password works again, so nobody can keep an
account locked for good, and failures from another address never touch this one. Wrong API tokens
count under `api:<address>`, but a valid token is always accepted (the caller checks the token
first): only the guesser is slowed. Failures older than the window are forgotten when the next one
is recorded. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.models import LoginFailure

KEY_LENGTH = 120


@dataclass(frozen=True)
class Policy:
    """How many failures are free within `window`, then the first wait, doubling up to `cap`."""

    free: int = 5
    window: timedelta = timedelta(minutes=15)
    first: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=15)

    def delay(self, failures: int) -> timedelta:
        """The wait after `failures` failures (zero while they are free)."""
        if failures < self.free:
            return timedelta(0)
        return min(self.cap, self.first * 2 ** min(failures - self.free, 30))


def sign_in_key(username: str, address: str | None) -> str:
    """The key a sign-in attempt counts under: this account from this address."""
    return f"pair:{username.lower()}|{address or '-'}"[:KEY_LENGTH]


def token_key(address: str | None) -> str:
    """The key a wrong API token counts under: its client address."""
    return f"api:{address or '-'}"[:KEY_LENGTH]


def wait(session: Session, key: str, now: datetime, policy: Policy) -> timedelta:
    """How long `key` must still wait before its next try (zero: go ahead)."""
    count, last = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.key == key, LoginFailure.at >= now - policy.window
        )
    ).one()
    if not count or last is None:
        return timedelta(0)
    remaining = last + policy.delay(int(count)) - now
    return max(remaining, timedelta(0))


def record_failure(session: Session, keys: Iterable[str], now: datetime, window: timedelta) -> None:
    """Count one failure under each key, forgetting every failure older than `window`."""
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - window))
    session.add_all([LoginFailure(key=key, at=now) for key in keys])


def forget(session: Session, key: str) -> None:
    """A success clears the key's failures: the person who knows the password starts afresh."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
