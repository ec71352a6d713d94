"""Drive requests forward without people: fill task forms from their JSON Schema and act.

Used by `waypoint demo-data` (realistic requests in every state) and by benchmarks. A
submission is built from the form itself: decisions follow a policy ("approve" most of the
time, sometimes "reject" or "return"), required fields get plausible values, and comment
fields are always filled so a refusal carries its reason. Start data and message payloads
come from samplers the process modules register (`glue.start_sampler`, `glue.message_sampler`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import WaypointError
from engine.forms import choices, is_comment_field
from engine.models import MessageSubscription, ProcessInstance, TaskRecord, User, UserRole
from engine.permissions import bars_requester
from engine.runtime import Engine

POSITIVE = ("approve", "confirm", "cleared", "granted", "yes", "reminded", "no_action")
NEGATIVE = ("reject", "not_cleared", "refused", "no")
SENDBACK = ("return", "needs_information", "partially")


def _choice_values(node: Mapping[str, Any]) -> list[str]:
    return [str(value) for value, _ in choices(node) or ()]


def pick_choice(values: list[str], rng: random.Random, refuse_rate: float, sendback_rate: float) -> str:
    """A positive answer usually; a refusal or a send-back now and then."""
    roll = rng.random()
    for pool, threshold in ((NEGATIVE, refuse_rate), (SENDBACK, refuse_rate + sendback_rate)):
        options = [v for v in values if v in pool]
        if options and roll < threshold:
            return rng.choice(options)
    positive = [v for v in values if v in POSITIVE]
    return rng.choice(positive or values)


def fill(
    schema: Mapping[str, Any],
    rng: random.Random,
    today: date,
    *,
    refuse_rate: float = 0.1,
    sendback_rate: float = 0.1,
    everything: bool = False,
) -> dict[str, Any]:
    """A submission for an object schema: required fields (or all with `everything`) and comments;
    dates are `today`."""
    required = set(schema.get("required", []))
    out: dict[str, Any] = {}
    for key, node in (schema.get("properties") or {}).items():
        if key in required or everything or is_comment_field(key):
            out[key] = _value(key, node, rng, today, refuse_rate, sendback_rate, everything)
    return out


def _value(
    key: str, node: Mapping[str, Any], rng: random.Random, today: date, refuse: float, sendback: float, everything: bool
) -> Any:
    if "const" in node:
        return node["const"]
    values = _choice_values(node)
    if values:
        return pick_choice(values, rng, refuse, sendback)
    kind = node.get("type")
    if kind == "object":
        return fill(node, rng, today, refuse_rate=refuse, sendback_rate=sendback, everything=everything)
    if kind == "array":
        items = node.get("items") or {}
        count = max(int(node.get("minItems", 1)), 1)
        return [_value(key, items, rng, today, refuse, sendback, everything) for _ in range(count)]
    if kind == "boolean":
        return False
    if kind in ("number", "integer"):
        low = node.get("minimum", 0)
        number = max(low, 1 if kind == "integer" else 0)
        return int(number) if kind == "integer" else float(number)
    if node.get("format") == "date":
        return today.isoformat()
    pattern = node.get("pattern")
    if pattern:
        for candidate in (f"DEMO-{rng.randint(1000, 99999)}", f"{rng.randint(1000, 99999)}", "DEMO"):
            if re.search(pattern, candidate):
                return candidate
    text = f"Demo {key.replace('_', ' ')}"
    return text[: node.get("maxLength", 200)]


class Autopilot:
    """Completes open tasks, fires due timers and answers waiting messages for instances."""

    def __init__(self, engine: Engine, rng: random.Random, refuse_rate: float = 0.1, sendback_rate: float = 0.1):
        self.engine, self.rng = engine, rng
        self.refuse_rate, self.sendback_rate = refuse_rate, sendback_rate

    def worker_for(self, session: Session, row: TaskRecord) -> User | None:
        """Someone allowed to complete `row`: its holder, else a role member who is not the requester."""
        holder = row.claimed_by_id or row.assignee_id
        if holder is not None:
            return session.get(User, holder)
        candidates = session.scalars(
            select(User).join(UserRole).where(UserRole.role == row.role, User.active.is_(True)).order_by(User.id)
        ).all()
        eligible = [u for u in candidates if not bars_requester(row) or u.id != row.instance.started_by_id]
        return self.rng.choice(eligible) if eligible else None

    def step(self, session: Session, instance_id: int) -> bool:
        """Complete one open task of the instance (or answer one waiting message); False if nothing to do."""
        row = session.scalars(
            select(TaskRecord)
            .where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready")
            .order_by(TaskRecord.created_at)
            .limit(1)
        ).first()
        if row is not None:
            user = self.worker_for(session, row)
            if user is None:
                return False
            schema = self.engine.definition_for(session, row.instance).form(row.form) or {}
            today = self.engine.today()  # the office's date, as the date rules read it
            for everything in (False, True):
                data = fill(
                    schema,
                    self.rng,
                    today,
                    refuse_rate=self.refuse_rate,
                    sendback_rate=self.sendback_rate,
                    everything=everything,
                )
                try:
                    with session.begin_nested():
                        self.engine.complete(session, row.id, user.username, data)
                    return True
                except WaypointError:
                    continue
            return False
        return self.answer_message(session, instance_id)

    def answer_message(self, session: Session, instance_id: int) -> bool:
        sub = session.scalars(
            select(MessageSubscription).where(MessageSubscription.instance_id == instance_id).limit(1)
        ).first()
        if sub is None:
            return False
        import json

        correlation = json.loads(sub.correlation)
        payload = self.engine.glue.sample_message(sub.message_name, correlation, self.rng)
        if payload is None:
            return False
        with session.begin_nested():
            self.engine.deliver_message(
                session, sub.message_name, payload, correlation if "instance" not in correlation else None
            )
        return True

    def fire_due(self, session: Session) -> int:
        fired = 0
        for timer in self.engine.due_timers(session, limit=1000):
            fired += self.engine.fire_timer(session, timer.id)
        return fired

    def drive(self, session: Session, instance_id: int, max_steps: int) -> ProcessInstance:
        """Take up to `max_steps` steps (tasks or messages), firing timers as they fall due."""
        for _ in range(max_steps):
            if session.get_one(ProcessInstance, instance_id).status != "running":
                break
            if not self.step(session, instance_id):
                break
        return session.get_one(ProcessInstance, instance_id)
