"""Scheduler throughput: due timers one worker fires per second, and reminders over 100,000 open tasks.

Usage: .venv/bin/python bench/scheduler.py [--runs 5] [--timers 200] [--open-tasks 100000] [--db sqlite|postgresql|both]
       [--full]

For each database (a fresh SQLite file; a fresh PostgreSQL schema at 127.0.0.1:5432/test) it prints medians over
`--runs` repetitions of:

* BPMN timers/s: boundary timers of `timer_race` fired through the engine (deserialize, fire, run, serialize, index,
  new-task email to the outbox), one worker, batches of 50;
* reminders/s: reminder timers fired (render en/fr text+HTML with signed links, outbox row, move the timer);
* with `--open-tasks` open tasks each holding a reminder timer: the claim scan when nothing is due and when 1,000
  are due, the time to fire those 1,000, and the daily digest built over all open tasks. `--full` also fires every
  one of the reminders once (long: it is the 100,000-task figure measured rather than projected).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Database, Engine, ManualClock  # noqa: E402
from engine.demo import seed_demo_users  # noqa: E402
from engine.digest import send_digests  # noqa: E402
from engine.models import OutboxMessage, ProcessDefinition, ProcessInstance, TaskRecord, Timer, User  # noqa: E402
from engine.notifications import MailConfig, configure  # noqa: E402
from engine.scheduler import Worker, WorkerSettings  # noqa: E402
from engine.taskindex import BPMN_TIMER, TASK_REMINDER  # noqa: E402

FLOWS = ROOT / "tests" / "scheduler" / "fixtures" / "flows"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_database(kind: str) -> tuple[Database, callable]:
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="waypoint-bench-")
        db = Database(f"sqlite:///{folder}/bench.db")
        return db, db.dispose
    schema = f"wp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(f"{PG}?options=-csearch_path%3D{schema}")

    def drop() -> None:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return db, drop


def setup(db: Database) -> tuple[Engine, ManualClock, Worker]:
    db.upgrade()
    clock = ManualClock()
    engine = Engine(clock=clock)
    configure(engine, MailConfig(base_url="http://bench.test", secret_key="bench", reply_domain="reply.bench.test"))
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
        engine.deploy(s, [FLOWS])
    worker = Worker(db, engine, owner="bench", settings=WorkerSettings(batch=50))
    return engine, clock, worker


def fire_all(worker: Worker) -> tuple[int, float]:
    """Fire every due timer with one worker: (count, seconds)."""
    fired, t0 = 0, time.perf_counter()
    while True:
        done, skipped, failed = worker.run_timers()
        if failed:
            raise RuntimeError(f"{failed} timer(s) failed")
        fired += done
        if done + skipped + failed == 0:
            return fired, time.perf_counter() - t0


def timers_per_second(db: Database, engine: Engine, clock: ManualClock, worker: Worker, n: int, kind: str) -> float:
    key = "timer_race" if kind == BPMN_TIMER else "reminder_demo"
    with db.transaction() as s:
        for i in range(n):
            engine.start(s, key, {"title": f"bench {i}"}, "jdoe")
        s.execute(delete(Timer).where(Timer.kind != kind))  # measure one kind at a time
    clock.advance(days=2, seconds=1)
    fired, seconds = fire_all(worker)
    assert fired == n, (fired, n)
    with db.transaction() as s:  # leave nothing due for the next run
        s.execute(delete(Timer))
    return fired / seconds


def bulk_open_tasks(db: Database, clock: ManualClock, count: int) -> tuple[float, timedelta]:
    """`count` open tasks, each with a reminder timer, due evenly over 30 days: (seconds to load, due step)."""
    t0 = time.perf_counter()
    now = clock.now()
    step = timedelta(days=30) / count
    with db.transaction() as s:
        definition = s.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "reminder_demo")).one()
        users = {u.username: u.id for u in s.scalars(select(User))}
        assignees = [users[n] for n in ("msmith", "dlee", "fchan", "ebrown", "sroy", "ppatel")]
        first_id = (s.scalar(select(ProcessInstance.id).order_by(ProcessInstance.id.desc()).limit(1)) or 0) + 1
    chunk = 10_000
    for start in range(0, count, chunk):
        ids = range(first_id + start, first_id + min(start + chunk, count))
        instances, tasks, timers = [], [], []
        for n, iid in enumerate(ids, start):
            task_id = str(uuid.uuid4())
            instances.append(
                dict(
                    id=iid,
                    definition_id=definition.id,
                    process_key="reminder_demo",
                    status="running",
                    state="{}",
                    serializer_version="1",
                    version=1,
                    data={},
                    started_by_id=users["jdoe"],
                    summary=f"Jane Doe — bench request {iid}",
                    created_at=now,
                    updated_at=now,
                    audit_seq=0,
                    audit_head="",
                )
            )
            due = now + step * (n + 1)
            tasks.append(
                dict(
                    id=task_id,
                    instance_id=iid,
                    process_key="reminder_demo",
                    element_id="Task_review",
                    name="Supervisor review",
                    lane="Supervisor",
                    role="supervisor",
                    form="forms/decision.schema.json",
                    assignee_id=assignees[n % len(assignees)],
                    status="ready",
                    created_at=now,
                    due_at=due,
                )
            )
            timers.append(dict(instance_id=iid, task_id=task_id, kind=TASK_REMINDER, due_at=due, attempts=0))
        with db.transaction() as s:
            s.execute(insert(ProcessInstance), instances)
            s.execute(insert(TaskRecord), tasks)
            s.execute(insert(Timer), timers)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0, step


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench(kind: str, runs: int, n: int, open_tasks: int, full: bool) -> None:
    db, cleanup = fresh_database(kind)
    try:
        engine, clock, worker = setup(db)
        timers_per_second(db, engine, clock, worker, 20, BPMN_TIMER)  # warm-up: spec cache, templates
        bpmn = [timers_per_second(db, engine, clock, worker, n, BPMN_TIMER) for _ in range(runs)]
        reminders = [timers_per_second(db, engine, clock, worker, n, TASK_REMINDER) for _ in range(runs)]
        print(f"[{kind}] one worker, {n} due timers per run, median of {runs} runs:")
        print(f"  BPMN timers fired per second:   {median(bpmn):8.0f}   (runs: {', '.join(f'{v:.0f}' for v in bpmn)})")
        print(
            f"  reminders fired per second:     {median(reminders):8.0f}   "
            f"(runs: {', '.join(f'{v:.0f}' for v in reminders)})"
        )
        if not open_tasks:
            return
        with db.transaction() as s:
            s.execute(delete(OutboxMessage))
        loaded, step = bulk_open_tasks(db, clock, open_tasks)
        base = clock.now()
        print(f"  {open_tasks:,} open tasks with reminder timers loaded in {loaded:.1f} s")
        scans = []
        for _ in range(runs):
            t0 = time.perf_counter()
            assert worker.claim_timers() == []
            scans.append(time.perf_counter() - t0)
        print(f"  claim scan, nothing due:        {median(scans) * 1000:8.2f} ms")
        scans, fire_times = [], []
        for run in range(runs):
            clock.set(base + step * 1000 * (run + 1) + timedelta(seconds=1))
            t0 = time.perf_counter()
            claimed = worker.claim_timers()
            scans.append(time.perf_counter() - t0)
            for c in claimed:
                worker.fire(c)
            fired, seconds = fire_all(worker)
            fire_times.append((fired + len(claimed)) / (seconds + scans[-1]))
        print(f"  claim scan, 1,000 due (50 taken): {median(scans) * 1000:6.2f} ms")
        print(f"  reminders fired per second at {open_tasks:,} open: {median(fire_times):6.0f}")
        with db.transaction() as s:
            s.execute(delete(OutboxMessage))
        digest_times = []
        for day in range(runs):
            clock.set(base + timedelta(days=day, hours=1))
            with db.transaction() as s:
                s.execute(delete(OutboxMessage).where(OutboxMessage.kind == "digest"))
                t0 = time.perf_counter()
                sent = send_digests(s, engine, clock.now())
                digest_times.append(time.perf_counter() - t0)
        print(f"  daily digest over {open_tasks:,} open tasks ({sent} emails): {median(digest_times):.2f} s")
        projected = open_tasks / median(fire_times)
        print(f"  reminders for all {open_tasks:,} open tasks, projected: {projected:.0f} s ({projected / 60:.1f} min)")
        if full:
            clock.set(base + timedelta(days=31))
            fired, seconds = fire_all(worker)
            print(f"  reminders for all {open_tasks:,} open tasks, measured: {fired:,} in {seconds:.0f} s")
    finally:
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--open-tasks", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--full", action="store_true", help="also fire every open task's reminder (slow)")
    args = parser.parse_args()
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        bench(kind, args.runs, args.timers, args.open_tasks, args.full)


if __name__ == "__main__":
    main()
