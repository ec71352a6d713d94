"""Figures 3 and 5: sustained completions with two worker processes, and the scheduler worker.

Both run in child processes (spawned, so each is a fresh interpreter like a real worker) so that
their peak RSS is their own. Their instances are clones of real mid-flow instances (bench/data.py).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, event, not_

from engine import Database, ManualClock, WaypointError
from engine.heap import settle

from .common import ANCHOR, Mode, bench_engine, log, peak_rss_mb, rss_mb, summary
from .data import FlowTemplates, _Rollback, clone_into, clone_task_id, next_instance_id
from .flows import PROCESSES, load_flows

# issue 21's targets
THROUGHPUT_TARGET = 400.0  # completions per second, SQLite, 2 worker processes
TIMERS_TARGET = 400.0  # timers (BPMN timers, reminders) fired per second by one worker
SCAN_TARGET_MS = 500.0  # the worker's claim of due timers
DIGEST_TARGET_MS = 200.0  # the daily digest over every open task
WORKERS = 2


# --- throughput -----------------------------------------------------------------------------------
def make_pool(db: Database, ft: FlowTemplates, count: int) -> list[tuple[str, str, str]]:
    """`count` clones of the three mid-flow instances, round-robin: (task id, who completes it, process)."""
    first = next_instance_id(db)
    keys = [PROCESSES[i % len(PROCESSES)] for i in range(count)]
    clone_into(db, ft.tset, [(ft.mid[key][0], 0.0) for key in keys], first_id=first)
    return [(clone_task_id(ft.mid[key][1], first + i), ft.mid[key][2], key) for i, key in enumerate(keys)]


class _SqlClock:
    """Seconds spent in SQL statements, and in taking the write lock (SQLite `BEGIN IMMEDIATE`)."""

    def __init__(self, engine: Any):
        self.sql = self.lock = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        self.sql += elapsed
        if statement.startswith("BEGIN IMMEDIATE"):
            self.lock += elapsed


def _throughput_child(url: str, jobs: list, warmup: int, duration: float, ready: Any, go: Any, out: Any) -> None:
    db = Database(url)
    engine = bench_engine()
    clock = _SqlClock(db.engine)
    data = {key: flow.mid.data for key, flow in load_flows().items()}
    errors: dict[str, int] = {}

    def complete(job: tuple[str, str, str]) -> bool:
        task_id, user, key = job
        try:
            with db.transaction() as s:
                engine.complete(s, task_id, user, data[key])
            return True
        except WaypointError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return False

    for job in jobs[:warmup]:
        complete(job)
    settle()  # as a web or worker process does once it has started
    rss_before = rss_mb()
    ready.set()
    go.wait()
    clock.sql = clock.lock = 0.0
    start = time.perf_counter()
    end = start + duration
    done, latencies = 0, []
    for job in jobs[warmup:]:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        if complete(job):
            done += 1
            latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = min(time.perf_counter(), end) - start
    out.put(
        {
            "done": done,
            "elapsed": elapsed,
            "errors": errors,
            "latency": summary(latencies),
            "sql_share": round(clock.sql / elapsed, 3) if elapsed else None,
            "lock_wait_share": round(clock.lock / elapsed, 3) if elapsed else None,
            "peak_rss_mb": peak_rss_mb(),
            # what a long-running process would keep growing by: a leak shows here, not in its peak
            "rss_growth_mb_per_1000": _per_1000(rss_before, rss_mb(), done),
            "exhausted": done + sum(errors.values()) >= len(jobs) - warmup,
        }
    )


def _per_1000(before: float | None, after: float | None, done: int) -> float | None:
    return round((after - before) * 1000 / done, 2) if before is not None and after is not None and done else None


def throughput(kind: str, url: str, ft: FlowTemplates, mode: Mode, per_complete_ms: float | None) -> dict:
    """Completions per second by WORKERS processes completing mid-flow tasks through the engine."""
    db = Database(url)
    duration = mode.throughput_seconds
    warmup = 10
    expected = WORKERS * 1000 / max(per_complete_ms or 5.0, 2.0)
    count = int(min(40_000, max(1_000, expected * duration * 2.5))) + WORKERS * warmup
    t0 = time.perf_counter()
    jobs = make_pool(db, ft, count)
    db.dispose()
    log(f"{kind} throughput: {count:,} mid-flow clones in {time.perf_counter() - t0:.1f} s")
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    readies, children = [], []
    for n in range(WORKERS):
        ready = ctx.Event()
        share = jobs[n::WORKERS]
        child = ctx.Process(target=_throughput_child, args=(url, share, warmup, duration, ready, go, out))
        child.start()
        readies.append(ready)
        children.append(child)
    for ready in readies:
        if not ready.wait(120):
            raise RuntimeError("a throughput worker did not start")
    go.set()
    reports = [out.get(timeout=duration + 120) for _ in children]
    for child in children:
        child.join(30)
    done = sum(r["done"] for r in reports)
    elapsed = max(r["elapsed"] for r in reports)
    rate = done / elapsed if elapsed else 0.0
    result = {
        "workers": WORKERS,
        "seconds": round(elapsed, 1),
        "completions": done,
        "per_second": round(rate, 1),
        "per_worker": [round(r["done"] / r["elapsed"], 1) if r["elapsed"] else 0 for r in reports],
        "latency_ms": [r["latency"] for r in reports],
        "errors": [r["errors"] for r in reports],
        "pool_exhausted": any(r["exhausted"] for r in reports),
        "sql_share": [r["sql_share"] for r in reports],
        "lock_wait_share": [r["lock_wait_share"] for r in reports],
        "peak_rss_mb": [r["peak_rss_mb"] for r in reports],
        "rss_growth_mb_per_1000": [r["rss_growth_mb_per_1000"] for r in reports],
    }
    if kind == "sqlite":
        result["target"] = THROUGHPUT_TARGET
        result["pass"] = rate >= THROUGHPUT_TARGET
    return result


# --- scheduler ------------------------------------------------------------------------------------
def prepare_timers(db: Database, ft: FlowTemplates, n: int) -> dict:
    """Clones of a just-started conference: set A keeps only its BPMN timer (P5D boundary timer of the
    supervisor review), set B (30 days later) only its task reminder; every other timer is dropped."""
    from engine.models import Timer
    from engine.taskindex import BPMN_TIMER, TASK_REMINDER

    template = ft.tset.templates[ft.fresh_conference]
    first = next_instance_id(db)
    later = 30 * 86400.0
    entries = [(ft.fresh_conference, 0.0)] * n + [(ft.fresh_conference, later)] * n
    clone_into(db, ft.tset, entries, first_id=first)
    a = (first, first + n - 1)
    b = (first + n, first + 2 * n - 1)
    keep = [
        and_(Timer.kind == BPMN_TIMER, Timer.instance_id.between(*a)),
        and_(Timer.kind == TASK_REMINDER, Timer.instance_id.between(*b)),
    ]
    with db.transaction() as s:
        s.execute(delete(Timer).where(not_(keep[0] | keep[1])))
    base = template.created
    return {
        "n": n,
        "bpmn_clock": (base + timedelta(days=5, minutes=1)).isoformat(),
        "reminder_clock": (base + timedelta(days=30 + 5, minutes=1)).isoformat(),
        "reminder_set": b,
    }


def _fire_all(worker: Any) -> tuple[int, float, int]:
    fired, failed, t0 = 0, 0, time.perf_counter()
    while True:
        done, skipped, bad = worker.run_timers()
        fired += done
        failed += bad
        if done + skipped + bad == 0:
            return fired, time.perf_counter() - t0, failed


def _parse_specs(db: Any, engine: Any) -> None:
    """Parse every deployed version before timing: a long-running worker has them cached."""
    from engine.models import ProcessDefinition

    with db.reading() as s:
        for definition in s.query(ProcessDefinition):
            engine.specs.get(s, definition)


def _digest_rolled_back(db: Database, engine: Any) -> tuple[float, int]:
    """One daily digest over the data set, timed, its emails rolled back: (ms, emails)."""
    from engine.worker.digest import send_digests

    try:
        with db.transaction() as s:
            t0 = time.perf_counter()
            emails = send_digests(s, engine.mail, ANCHOR)
            ms = (time.perf_counter() - t0) * 1000
            raise _Rollback
    except _Rollback:
        return ms, emails


def _scheduler_child(url: str, plan: dict, scale_url: str | None, runs: int, out: Any) -> None:
    from sqlalchemy import update

    from engine.mail.compose import MailConfig
    from engine.models import Timer
    from engine.taskindex import TASK_REMINDER
    from engine.worker.loop import Worker, WorkerSettings

    from .httpload import SECRET

    mail = MailConfig(base_url="http://bench.invalid", secret_key=SECRET, reply_domain="reply.bench.invalid")
    result: dict[str, Any] = {}
    db = Database(url)
    clock = ManualClock(datetime.fromisoformat(plan["bpmn_clock"]))
    engine = bench_engine(clock=clock, mail=mail)
    _parse_specs(db, engine)
    worker = Worker(db, engine, owner="bench-worker", settings=WorkerSettings(batch=50))
    settle()  # as `waypoint worker` does before its first round
    fired, seconds, failed = _fire_all(worker)
    result["bpmn"] = {
        "fired": fired,
        "failed": failed,
        "seconds": round(seconds, 2),
        "per_second": round(fired / seconds, 1) if seconds else None,
    }
    lo, hi = plan["reminder_set"]
    with db.transaction() as s:
        s.execute(delete(Timer).where(not_(and_(Timer.kind == TASK_REMINDER, Timer.instance_id.between(lo, hi)))))
    clock.set(datetime.fromisoformat(plan["reminder_clock"]))
    fired, seconds, failed = _fire_all(worker)
    result["reminders"] = {
        "fired": fired,
        "failed": failed,
        "seconds": round(seconds, 2),
        "per_second": round(fired / seconds, 1) if seconds else None,
    }
    db.dispose()
    if scale_url:
        sdb = Database(scale_url)
        sclock = ManualClock(ANCHOR)
        sengine = bench_engine(clock=sclock, mail=mail)
        _parse_specs(sdb, sengine)
        sworker = Worker(sdb, sengine, owner="bench-scan", settings=WorkerSettings(batch=50))
        idle, batch, digest = [], [], []
        # one digest before measuring, as a running worker has: its first also parses the process
        # definitions and loads the locale data (about 0.6 s, once per process)
        _digest_rolled_back(sdb, sengine)
        for _ in range(runs):
            sclock.set(ANCHOR - timedelta(days=3650))
            t0 = time.perf_counter()
            assert sworker.claim_timers() == []
            idle.append((time.perf_counter() - t0) * 1000)
            sclock.set(ANCHOR)
            t0 = time.perf_counter()
            claimed = sworker.claim_timers()
            batch.append((time.perf_counter() - t0) * 1000)
            with sdb.transaction() as s:  # give the leases back: the cached data set stays as built
                s.execute(
                    update(Timer).where(Timer.lease_owner == "bench-scan").values(lease_owner=None, lease_until=None)
                )
            ms, emails = _digest_rolled_back(sdb, sengine)
            digest.append(ms)
        with sdb.reading() as s:
            from sqlalchemy import func, select

            from engine.models import TaskRecord

            result["scale_open_tasks"] = s.scalar(select(func.count()).where(TaskRecord.status == "ready"))
            result["scale_timers"] = s.scalar(select(func.count()).select_from(Timer))
        result["claim_idle_ms"] = summary(idle)
        result["claim_batch_ms"] = summary(batch)
        result["claimed"] = len(claimed)
        result["digest_ms"] = summary(digest)
        result["digest_emails"] = emails
        sdb.dispose()
    result["peak_rss_mb"] = peak_rss_mb()
    out.put(result)


def scheduler(kind: str, url: str, ft: FlowTemplates, mode: Mode, scale_url: str | None) -> dict:
    """Timers and reminders fired per second by one worker; the scans over the large data set."""
    db = Database(url)
    plan = prepare_timers(db, ft, mode.timers)
    db.dispose()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_scheduler_child, args=(url, plan, scale_url, max(3, mode.runs // 3), out))
    child.start()
    result = out.get(timeout=900)
    child.join(30)
    for name in ("bpmn", "reminders"):
        figure = result[name]
        figure["target"] = TIMERS_TARGET
        figure["pass"] = bool(figure["per_second"]) and figure["per_second"] >= TIMERS_TARGET
        if figure["fired"] != plan["n"]:
            log(f"{kind} scheduler: {figure['fired']} {name} fired, {plan['n']} expected")
    for name in ("claim_idle_ms", "claim_batch_ms", "digest_ms"):
        if name in result:
            target = DIGEST_TARGET_MS if name == "digest_ms" else SCAN_TARGET_MS
            result[name]["target"] = target
            result[name]["pass"] = result[name]["p95"] <= target
    result["timers_per_run"] = plan["n"]
    return result
