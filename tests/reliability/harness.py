"""Shared pieces of the reliability tests: the test process, its people, random operations and
the consistency check every test ends with.

`check_consistency` recomputes, from each instance's serialized workflow alone, what the side
tables must say (open tasks, completed tasks, timers, message subscriptions) and what the audit
trail must hold (one event per transition, an intact hash chain, the version counter equal to
the number of actions), and fails on the first difference. `random_operation` is one step of
the load test; worker processes (load_worker.py) and in-process runs use the same code.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, text

from engine import Conflict, Database, Engine, NotFound, PermissionDenied
from engine import audit as audit_trail
from engine.models import Base, MessageSubscription, ProcessInstance, TaskRecord, Timer, User
from engine.serialization import SERIALIZER_VERSION
from engine.taskindex import BPMN_TIMER

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FLOW = HERE / "fixtures" / "flow"
FLOW_KEY = "reliability_flow"
MESSAGE = "go_ahead"
STARTERS = ("jdoe", "rmartin")
#: Role of each lane of the test process → how many extra people per worker hold it.
WORKER_ROLES = {"supervisor": 3, "finance": 2}


def worker_users(worker: int) -> dict[str, list[str]]:
    """The people one worker acts as: its own, so two workers never act as the same person."""
    return {role: [f"w{worker}_{role[:3]}{n}" for n in range(count)] for role, count in WORKER_ROLES.items()}


def seed_workers(db: Database, engine: Engine, workers: int) -> None:
    from engine.people.users import add_user

    with db.transaction() as s:
        for w in range(workers):
            for role, names in worker_users(w).items():
                for name in names:
                    add_user(s, name, now=engine.clock.now(), roles=[role])


def deploy_flow(db: Database, engine: Engine) -> None:
    with db.transaction() as s:
        engine.deploy(s, [FLOW])


def started_request(db: Database, engine: Engine) -> tuple[int, dict[str, list[str]]]:
    """The test process deployed, one worker's people seeded and a request started by jdoe (two
    parallel checks open): its id, and the worker's people by role."""
    deploy_flow(db, engine)
    seed_workers(db, engine, 1)
    with db.transaction() as s:
        iid = engine.start(s, FLOW_KEY, {"title": "Trip", "amount": 5}, "jdoe").id
    return iid, worker_users(0)


def waiting_for_go_ahead(db: Database, engine: Engine) -> tuple[int, dict[str, list[str]]]:
    """`started_request` with both checks approved: the request waits for the go-ahead message."""
    iid, staff = started_request(db, engine)
    for task_id, _, role, _ in ready_tasks(db, [iid]):
        with db.transaction() as s:
            engine.complete(s, task_id, staff[role][0], {"decision": "approve"})
    return iid, staff


def start_flow(db: Database, engine: Engine, n: int, starter: str | None = None) -> list[int]:
    ids = []
    for i in range(n):
        with db.transaction() as s:
            who = starter or STARTERS[i % len(STARTERS)]
            ids.append(engine.start(s, FLOW_KEY, {"title": f"Trip {i}", "amount": i}, who).id)
    return ids


# --- random operations (load test) ------------------------------------------------------------
@dataclass
class OpLog:
    """What one worker did: outcome counts per operation, and the ids its successes touched."""

    counts: dict[str, Counter] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def note(self, op: str, outcome: str) -> None:
        self.counts.setdefault(op, Counter())[outcome] += 1

    def to_json(self) -> dict:
        return {**self.__dict__, "counts": {k: dict(v) for k, v in self.counts.items()}}

    @classmethod
    def merged(cls, parts: list[dict]) -> OpLog:
        log = cls()
        for part in parts:
            for op, outcomes in part["counts"].items():
                log.counts.setdefault(op, Counter()).update(outcomes)
            for name in ("completed", "claimed", "released", "messages", "cancelled", "started", "errors"):
                getattr(log, name).extend(part[name])
        return log

    def total(self, outcome: str) -> int:
        return sum(c.get(outcome, 0) for c in self.counts.values())


OPERATIONS = (("complete", 40), ("claim", 20), ("message", 14), ("release", 8), ("start", 8), ("cancel", 3))


def random_operation(
    db: Database, engine: Engine, rng: random.Random, worker: int, pool: list[int], log: OpLog
) -> None:
    """Pick an operation and a target among `pool` (read first, act in a second transaction, so
    other workers can act in between), run it, and record the outcome."""
    op = rng.choices([o for o, _ in OPERATIONS], weights=[w for _, w in OPERATIONS])[0]
    people = worker_users(worker)
    try:
        with db.reading() as s:
            sample = rng.sample(pool, min(len(pool), 8))
            ready = list(
                s.execute(
                    select(TaskRecord.id, TaskRecord.role, TaskRecord.claimed_by_id, User.username)
                    .outerjoin(User, User.id == TaskRecord.claimed_by_id)
                    .where(TaskRecord.instance_id.in_(sample), TaskRecord.status == "ready")
                )
            )
            waiting = list(
                s.scalars(
                    select(MessageSubscription.instance_id).where(
                        MessageSubscription.instance_id.in_(sample), MessageSubscription.message_name == MESSAGE
                    )
                )
            )
        if op == "start":
            with db.transaction() as s:
                who = rng.choice(STARTERS)
                iid = engine.start(s, FLOW_KEY, {"title": f"w{worker} load", "amount": rng.randint(0, 9999)}, who).id
            pool.append(iid)
            log.started.append(iid)
        elif op == "message":
            iid = rng.choice(waiting) if waiting and rng.random() < 0.9 else rng.choice(sample)
            with db.transaction() as s:
                engine.deliver_message(s, MESSAGE, {"by": f"w{worker}"}, correlation={"instance": iid})
            log.messages.append(iid)
        elif op == "cancel":
            iid = rng.choice(sample)
            with db.transaction() as s:
                starter = s.get(ProcessInstance, iid).started_by.username
                engine.cancel(s, iid, starter, f"w{worker} cancels")
            log.cancelled.append(iid)
        else:
            if not ready:
                op = "idle"
                raise NotFound("no_such_task_here")  # nothing ready in the sample
            task_id, role, claimed_by, claimant = rng.choice(ready)
            mine = [u for u in people.get(role, [])]
            if op == "release":
                candidates = [claimant] if claimant in mine else []
                if not candidates:
                    op = "idle"
                    raise NotFound("no_such_task_here")  # nothing of mine to release
                with db.transaction() as s:
                    engine.release(s, task_id, claimant)
                log.released.append(task_id)
            elif op == "claim":
                if claimant in mine:
                    op = "idle"  # a claim of one's own task is a no-op without an event: skip
                    raise NotFound("no_such_task_here")  # already mine
                actor = rng.choice(mine) if rng.random() < 0.95 else "jdoe"
                with db.transaction() as s:
                    engine.claim(s, task_id, actor)
                log.claimed.append(task_id)
            else:
                actor = claimant if claimant in mine else rng.choice(mine)
                if rng.random() < 0.05:
                    actor = "jdoe"  # wrong person: refused
                data = {"decision": rng.choice(["approve", "reject"]), "comment": f"w{worker} {rng.random():.6f}"}
                with db.transaction() as s:
                    engine.complete(s, task_id, actor, data)
                log.completed.append(task_id)
        log.note(op, "ok")
    except Conflict:
        log.note(op, "conflict")
    except NotFound:
        log.note(op, "not_found")
    except PermissionDenied:
        log.note(op, "denied")
    except Exception as exc:  # anything else is a failure of the promise
        log.note(op, "error")
        log.errors.append(f"{op}: {type(exc).__name__}: {exc}")


# --- the consistency check ----------------------------------------------------------------------
@dataclass
class Consistency:
    instances: int = 0
    by_status: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    open_tasks: int = 0


def _task(wf: Any, task_id: str) -> Any:
    try:
        return wf.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return None


def check_consistency(db: Database, engine: Engine) -> Consistency:
    """Every instance deserializes and its side tables and audit trail agree with its workflow."""
    out = Consistency()
    with db.reading() as s:
        usernames = dict(s.execute(select(User.id, User.username)).all())
        for instance in s.scalars(select(ProcessInstance).order_by(ProcessInstance.id)):
            check_instance(s, engine, instance, usernames, out)
    return out


def check_instance(s: Any, engine: Engine, instance: ProcessInstance, usernames: dict, out: Consistency) -> None:
    where = f"instance #{instance.id}"
    stored = json.loads(instance.state)
    assert instance.serializer_version == SERIALIZER_VERSION == stored["serializer_version"], where
    wf = engine.load_workflow(instance, engine.definition_for(s, instance))
    out.instances += 1
    out.by_status[instance.status] += 1
    if instance.status != "cancelled":  # a cancelled workflow counts as completed for SpiffWorkflow
        assert (instance.status == "completed") == bool(wf.completed), (where, instance.status, wf.completed)

    # the task index, recomputed from the workflow
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    rows = list(s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)))
    open_rows = {r.id: r for r in rows if r.status == "ready"}
    assert set(open_rows) == set(ready), (where, "open tasks", sorted(open_rows), sorted(ready))
    out.open_tasks += len(open_rows)
    for row in rows:
        task = _task(wf, row.id)
        assert task is not None, (where, "task row without a workflow task", row.id)
        assert row.element_id == task.task_spec.bpmn_id, (where, row.id)
        done = task.state == TaskState.COMPLETED
        assert (row.status == "completed") == done == (row.completed_by_id is not None), (
            where,
            row.id,
            row.status,
            TaskState.get_name(task.state),
        )
    # timers and message subscriptions, recomputed from the waiting tasks
    waiting = [] if wf.completed else wf.get_tasks(state=TaskState.WAITING)
    timers = {
        str(t.id) for t in waiting if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
    }
    messages = {
        str(t.id) for t in waiting if isinstance(getattr(t.task_spec, "event_definition", None), MessageEventDefinition)
    }
    if instance.status != "running":
        timers, messages = set(), set()
    timer_rows = set(s.scalars(select(Timer.task_id).where(Timer.instance_id == instance.id, Timer.kind == BPMN_TIMER)))
    assert timer_rows <= timers and (timers - timer_rows) <= _timers_without_due(wf, timers), (where, "timers")
    sub_rows = set(s.scalars(select(MessageSubscription.task_id).where(MessageSubscription.instance_id == instance.id)))
    assert sub_rows == messages, (where, "subscriptions", sub_rows, messages)

    # the audit trail accounts for every transition
    assert audit_trail.verify(s, instance) == [], where
    events = audit_trail.events(s, instance.id)
    actions = [e.action for e in events]
    out.actions.update(actions)
    assert actions[0] == "started" and actions.count("started") == 1, (where, actions)
    # "ended" and "incident_opened" are written by the action that caused them, not actions of their own
    followers = ("ended", "incident_opened")
    assert instance.version == 1 + sum(1 for a in actions if a not in followers), (where, instance.version, actions)
    assert instance.audit_seq == len(events), where
    completions = [e.task_id for e in events if e.action == "task_completed"]
    assert len(completions) == len(set(completions)), (where, "a task completed twice")
    assert sorted(completions) == sorted(r.id for r in rows if r.status == "completed"), (where, "completions")
    for e in events:
        if e.action in ("task_completed", "message_received"):
            task = _task(wf, e.task_id)
            assert task is not None and task.state == TaskState.COMPLETED, (where, e.seq, e.action)
    assert actions.count("ended") == (1 if instance.status == "completed" else 0), (where, actions)
    assert actions.count("cancelled") == (1 if instance.status == "cancelled" else 0), (where, actions)
    if instance.status != "running":
        assert actions[-1] in ("ended", "cancelled"), (where, actions)
    for row in rows:  # who holds a task is what the last claim/release of it says
        holds = [e for e in events if e.task_id == row.id and e.action in ("task_claimed", "task_released")]
        expected = holds[-1].actor if holds and holds[-1].action == "task_claimed" else None
        if row.status == "ready":
            assert usernames.get(row.claimed_by_id) == expected, (where, row.id, "claim", expected)


def _timers_without_due(wf: Any, task_ids: set[str]) -> set[str]:
    return {t for t in task_ids if _task(wf, t).internal_data.get("event_value") is None}


# --- whole-database snapshots ("no trace") -------------------------------------------------------
def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, as sorted tuples of text (compare two snapshots for equality)."""
    out = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def ready_tasks(db: Database, instance_ids: list[int] | None = None) -> list[tuple[str, int, str, str | None]]:
    """(task id, instance id, role, assignee/claimant username) of open tasks."""
    with db.reading() as s:
        query = (
            select(TaskRecord.id, TaskRecord.instance_id, TaskRecord.role, User.username)
            .outerjoin(User, User.id == TaskRecord.claimed_by_id)
            .where(TaskRecord.status == "ready")
            .order_by(TaskRecord.instance_id, TaskRecord.element_id)
        )
        if instance_ids is not None:
            query = query.where(TaskRecord.instance_id.in_(instance_ids))
        return [tuple(r) for r in s.execute(query)]


def drive_to_end(db: Database, engine: Engine, worker: int = 0, on_step: Callable[[], None] | None = None) -> int:
    """Finish every running instance of the test process (complete tasks, send messages)."""
    people = worker_users(worker)
    steps = 0
    for _ in range(1000):
        tasks = ready_tasks(db)
        with db.reading() as s:
            waiting = list(
                s.scalars(select(MessageSubscription.instance_id).where(MessageSubscription.message_name == MESSAGE))
            )
        if not tasks and not waiting:
            return steps
        for task_id, _iid, role, claimant in tasks:
            with db.transaction() as s:
                engine.complete(s, task_id, claimant or people[role][0], {"decision": "approve"})
            steps += 1
        for iid in waiting:
            with db.transaction() as s:
                engine.deliver_message(s, MESSAGE, {}, correlation={"instance": iid})
            steps += 1
        if on_step:
            on_step()
    raise AssertionError("instances did not finish")
