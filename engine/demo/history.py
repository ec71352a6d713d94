"""`waypoint demo-data`: an office history of realistic requests in every state.

Requests are started over the past `days` on a clock that moves forward, each driven a
random number of steps by the autopilot (approvals mostly, some refusals and returns), with
BPMN timers fired as their time comes, so the database holds requests waiting at every
step, finished ones with every outcome, and believable timestamps for reports.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import ManualClock
from engine.db import Database
from engine.demo.autopilot import Autopilot
from engine.errors import NotFound, WaypointError
from engine.models import User, UserRole
from engine.runtime import Engine
from engine.versions import latest_definition

STEP_CHOICES = (0, 1, 2, 3, 5, 8, 40, 40, 40, 40)
#: People who run the office's steps do not file demo requests (they could not process their own).
OFFICE_ROLES = ("finance", "ethics", "itv_coordinator", "passport_officer", "security")


def generate(
    db: Database, app_engine: Engine, requests: int, *, now: datetime, days: int = 180, seed: int = 42
) -> Counter:
    """Create `requests` requests spread over the `days` before `now`, with the glue and key of
    `app_engine` on a clock of their own; return counts by status."""
    rng = random.Random(seed)
    clock = ManualClock(now - timedelta(days=days))
    engine = app_engine.derive(clock=clock)
    pilot = Autopilot(engine, rng)
    with db.reading() as s:
        keys = [k for k in sorted(engine.glue.start_samplers) if _deployed(s, k)]
        starters = {k: _users_with(s, engine.glue.start_samplers[k][1]) for k in keys}
    keys = [k for k in keys if starters[k]]
    if not keys:
        raise WaypointError("demo_needs_setup")
    step = timedelta(days=days) / max(requests, 1)
    outcome: Counter = Counter()
    for _ in range(requests):
        clock.advance(step)
        with db.transaction() as s:
            pilot.fire_due(s)
            key = rng.choice(keys)
            sampler = engine.glue.start_samplers[key][0]
            try:
                with s.begin_nested():
                    instance = engine.start(
                        s, key, sampler(rng, clock.now().date().isoformat()), rng.choice(starters[key])
                    )
            except WaypointError:
                outcome["refused at start"] += 1
                continue
            # older requests have had time to move on: drive most of them as far as they go
            settled = (now - clock.now()).days > 30 and rng.random() < 0.85
            final = pilot.drive(s, instance.id, 60 if settled else rng.choice(STEP_CHOICES))
            outcome[final.status] += 1
    clock.set(max(clock.now(), now))
    with db.transaction() as s:
        pilot.fire_due(s)
    return outcome


def _deployed(session: Session, key: str) -> bool:
    try:
        latest_definition(session, key)
    except NotFound:
        return False
    return True


def _users_with(session: Session, roles: tuple[str, ...]) -> list[str]:
    office = select(UserRole.user_id).where(UserRole.role.in_(OFFICE_ROLES))
    return list(
        session.scalars(
            select(User.username)
            .join(UserRole)
            .where(UserRole.role.in_(roles), User.active.is_(True), User.id.not_in(office))
            .distinct()
            .order_by(User.username)
        )
    )
