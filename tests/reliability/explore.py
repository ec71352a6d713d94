"""A generic explorer of Waypoint's real processes (bpmn/): it knows no business rule.

From each startable process it walks requests to their end, at every wait state choosing what
to do by a strategy (which option of every choice field to pick, whether timers fire before
people act), filling each form from its JSON Schema alone, acting as whoever may do the step,
delivering messages to waiting events and firing due timers. At each wait state it calls
`visit(instance_id, process_key, open_elements)`; the serializer tests check round trips there
and collect the stored fixture of states.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from engine import Database, Engine, ValidationFailed
from engine.models import MessageSubscription, ProcessInstance, TaskRecord, Timer, User
from engine.people.users import add_user, find_user
from engine.queries.tasks import list_processes
from engine.taskindex import BPMN_TIMER
from engine.versions import latest_definition

#: Message payloads besides the correlation values (bpmn/README.md lists them); the rest is generic.
MESSAGE_PAYLOADS: dict[str, Callable[[Strategy, date], dict]] = {
    "passport_issued": lambda st, today: {
        "passport_number": "QX7781234",
        "expiry_date": (today + timedelta(days=3650)).isoformat(),
    },
    "visa_decision": lambda st, today: {"decision": ("granted", "refused")[st.choice % 2], "note": "walked"},
}
_PATTERN_CANDIDATES = ("AB123456", "ABC-1234", "QX7781234", "A1B2C3D4E5", "Walked")


@dataclass(frozen=True)
class Strategy:
    choice: int = 0  # index of the option picked in every choice field (modulo their number)
    timers_first: bool = False  # let due timers fire before anyone acts
    flag: bool = True  # value of every boolean field
    risky: bool = False  # large amounts and a high-advisory country (routes to more approvals)
    payload: str | None = None  # put this (cut to length) in every free-text field

    @property
    def name(self) -> str:
        return (
            f"choice{self.choice}{'-timers' if self.timers_first else ''}{'' if self.flag else '-no'}"
            f"{'-risky' if self.risky else ''}"
        )


STRATEGIES = (
    Strategy(0),
    Strategy(1),
    Strategy(2),
    Strategy(0, risky=True),
    Strategy(0, timers_first=True, risky=True),
    Strategy(1, flag=False),
)


def _options(node: dict) -> list | None:
    if "oneOf" in node and all("const" in o for o in node["oneOf"]):
        return [o["const"] for o in node["oneOf"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _date_for(key: str, today: date) -> str:
    k = key.lower()
    if "birth" in k:
        return "1980-05-17"
    if "expiry" in k:
        return (today + timedelta(days=5 * 365)).isoformat()
    if "end" in k or "return" in k:
        return (today + timedelta(days=67)).isoformat()
    if "start" in k or "briefing" in k:
        return (today + timedelta(days=60)).isoformat()
    return today.isoformat()


def fill(node: dict, key: str, strategy: Strategy, today: date, serial: int = 0) -> Any:
    """A value for one schema node that satisfies the node (and, usually, its form's rules)."""
    if "const" in node:
        return node["const"]
    options = _options(node)
    if options:
        return options[strategy.choice % len(options)]
    kind = node.get("type")
    if kind == "object":
        return {k: fill(child, k, strategy, today, serial) for k, child in node.get("properties", {}).items()}
    if kind == "array":
        item = fill(node.get("items", {}), key, strategy, today, serial)
        return [item] * max(1, node.get("minItems", 1))
    if kind == "boolean":
        return strategy.flag
    if kind in ("number", "integer"):
        low = node.get("minimum", node.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in node else 100)
        value = max(low, 6000 if strategy.risky and kind == "number" else 1)
        if "maximum" in node:
            value = min(value, node["maximum"])
        return int(value) if kind == "integer" else float(value)
    if node.get("format") == "date":
        return _date_for(key, today)
    if strategy.risky and key in ("country", "nationality"):
        return "Russia"
    pattern = node.get("pattern")
    if pattern and pattern != "\\S":
        for candidate in (f"WK{serial:06d}", *_PATTERN_CANDIDATES):
            if re.search(pattern, candidate):
                return candidate
    text = strategy.payload or f"Walked {key.replace('_', ' ')}"
    text = text[: node.get("maxLength", 200)]
    return text.ljust(node.get("minLength", 0), "x")


def form_data(schema: dict | None, strategy: Strategy, today: date, serial: int = 0) -> dict:
    """Data for every field of a form (values unique to `serial` where a pattern allows)."""
    if not schema:
        return {}
    return {k: fill(node, k, strategy, today, serial) for k, node in schema.get("properties", {}).items()}


Visit = Callable[[int, str, tuple[str, ...]], None]
#: submit(task_id, username, data, schema): complete a task some other way (e.g. through the web
#: app); raise ValidationFailed when the submission is refused.
Submit = Callable[[str, str, dict, dict | None], None]


class Explorer:
    def __init__(self, db: Database, engine: Engine, clock: Any, visit: Visit, submit: Submit | None = None):
        self.db, self.engine, self.clock, self.visit, self.submit = db, engine, clock, visit, submit
        self.stuck: list[str] = []
        self.steps = 0

    def startable(self) -> list[tuple[str, str]]:
        """(process key, username) for every deployed process with a start form."""
        out = []
        with self.db.reading() as s:
            for process in list_processes(s):
                parsed = self.engine.specs.get(s, latest_definition(s, process["key"]))
                if parsed.start_form is None:
                    continue
                out.append((process["key"], self._person(s, sorted(parsed.start_roles)[0], exclude=None)))
        return out

    def _person(self, s: Any, role: str, exclude: int | None) -> str:
        users = s.scalars(select(User).order_by(User.id))
        for user in users:
            if role in user.roles and user.id != exclude and user.username != "admin":
                return user.username
        name = f"x_{role}"[:60]
        if find_user(s, name) is None:
            raise LookupError(role)
        return name

    def _ensure_person(self, role: str) -> None:
        with self.db.transaction() as s:
            if find_user(s, f"x_{role}"[:60]) is None:
                add_user(s, f"x_{role}"[:60], now=self.clock.now(), roles=[role])

    def walk(self, key: str, starter: str, strategy: Strategy, max_steps: int = 80) -> int:
        today = self.clock.now().date()
        with self.db.reading() as s:
            parsed = self.engine.specs.get(s, latest_definition(s, key))
            schema = parsed.form(parsed.start_form)
        with self.db.transaction() as s:
            iid = self.engine.start(s, key, form_data(schema, strategy, today, self.steps), starter).id
        for _ in range(max_steps):
            with self.db.reading() as s:
                instance = s.get(ProcessInstance, iid)
                status = instance.status
                rows = list(
                    s.scalars(
                        select(TaskRecord)
                        .where(TaskRecord.instance_id == iid, TaskRecord.status == "ready")
                        .order_by(TaskRecord.created_at, TaskRecord.element_id, TaskRecord.id)
                    )
                )
                subs = list(s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == iid)))
                timers = list(
                    s.scalars(
                        select(Timer)
                        .where(Timer.instance_id == iid, Timer.kind == BPMN_TIMER)
                        .order_by(Timer.due_at, Timer.id)
                    )
                )
                waits = tuple(sorted([r.element_id for r in rows] + [m.element_id for m in subs]))
            self.visit(iid, key, waits + tuple(f"timer@{t.task_id[:8]}" for t in timers))
            if status != "running":
                return iid
            if timers and (strategy.timers_first or not (rows or subs)):
                self._fire(timers[0])
            elif rows and self._complete(rows, strategy, today):
                pass
            elif subs:
                self._deliver(subs[0], strategy, today)
            elif timers:
                self._fire(timers[0])
            else:
                self.stuck.append(f"{key}/{strategy.name}: nothing to do at {waits}")
                return iid
            self.steps += 1
        self.stuck.append(f"{key}/{strategy.name}: no end after {max_steps} steps")
        return iid

    def _fire(self, timer: Timer) -> None:
        self.clock.set(max(self.clock.now(), timer.due_at) + timedelta(seconds=1))
        with self.db.transaction() as s:
            self.engine.fire_timer(s, timer.id)

    def _deliver(self, sub: MessageSubscription, strategy: Strategy, today: date) -> None:
        correlation = json.loads(sub.correlation)
        payload = {k: v for k, v in correlation.items() if k != "instance"}
        extra = MESSAGE_PAYLOADS.get(sub.message_name)
        if extra is not None:
            payload.update(extra(strategy, today))
        with self.db.transaction() as s:
            self.engine.deliver_message(s, sub.message_name, payload, correlation=correlation)

    def _complete(self, rows: list[TaskRecord], strategy: Strategy, today: date) -> bool:
        for row in rows:
            with self.db.reading() as s:
                row = s.get(TaskRecord, row.id)
                instance = row.instance
                schema = self.engine.definition_for(s, instance).form(row.form)
                if row.assignee_id is not None:
                    who = row.assignee.username
                elif row.claimed_by_id is not None:
                    who = row.claimed_by.username
                else:
                    try:
                        who = self._person(s, row.role, exclude=instance.started_by_id)
                    except LookupError:
                        who = None
            if who is None:
                self._ensure_person(row.role)
                with self.db.reading() as s:
                    who = self._person(s, row.role, exclude=instance.started_by_id)
            payload = strategy.payload
            for attempt in (
                strategy,
                Strategy(0, flag=strategy.flag, payload=payload),
                Strategy(0, flag=not strategy.flag, payload=payload),
                Strategy(0, flag=strategy.flag),
            ):
                data = form_data(schema, attempt, today, self.steps)
                try:
                    if self.submit is not None:
                        self.submit(row.id, who, data, schema)
                    else:
                        with self.db.transaction() as s:
                            self.engine.complete(s, row.id, who, data)
                    return True
                except ValidationFailed:
                    continue
            self.stuck.append(f"{row.process_key}/{row.element_id}: no generic submission passes its rules")
        return False
