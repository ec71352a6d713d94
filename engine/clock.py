"""The engine's notion of time: an injected clock, also seen by SpiffWorkflow's timers.

SpiffWorkflow computes timer due times with `datetime.now(timezone.utc)` inside its timer
module. `frozen_time(now)` makes that module (and the script helpers) see the action's
time instead, so an action uses one instant throughout and tests move time forward
instead of sleeping.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_current_time: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("waypoint_current_time", default=None)


class Clock(Protocol):
    """Anything with a `now()` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 2, 14, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` (or timedelta(**kwargs)) and return the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def current_time() -> datetime:
    """The time of the action in progress, or the wall clock outside one."""
    return _current_time.get() or datetime.now(UTC)


@contextmanager
def frozen_time(now: datetime) -> Iterator[datetime]:
    """Run the block with `current_time()` (and SpiffWorkflow's timers) fixed at `now`."""
    token = _current_time.set(now)
    try:
        yield now
    finally:
        _current_time.reset(token)


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` answers with the engine's current time."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]  # a plain datetime, not cls
        moment = current_time()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


# SpiffWorkflow's timer module is the only place the library reads the wall clock.
_spiff_timer.datetime = _ClockedDatetime
