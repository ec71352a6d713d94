"""`python -m bench profile`: where the time goes, for the figures that miss their targets.

For each of `complete` (Engine.complete of the three mid-flow tasks), `inbox` (the four inbox views on
the large data set) and `timers` (one worker firing BPMN timers) it writes bench/.cache/profile-*.txt:
a pyinstrument call tree (when pyinstrument is installed: `.venv/bin/pip install pyinstrument`) and the
SQL statements by total time (count, total and mean ms; every statement timed with SQLAlchemy events).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event

from engine import Database, ManualClock

from .common import ANCHOR, CACHE, Mode, bench_engine, log
from .data import ScaleTarget, data_key, ensure_flow_templates, ensure_scale
from .flows import load_flows


class SqlTimer:
    """Time of every statement on an engine, grouped by its text (numbers and lists folded)."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.samples: dict[str, tuple[str, Any]] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - conn.info["bench_t0"].pop()
        key = re.sub(r"\s+", " ", re.sub(r"\(\?(, \?)*\)|\d+", "#", statement)).strip()[:400]
        entry = self.stats[key]
        self.samples.setdefault(key, (statement, params))
        entry[0] += 1
        entry[1] += elapsed

    def total(self) -> float:
        return sum(v[1] for v in self.stats.values())

    def report(self, top: int = 15, per: int = 1) -> str:
        lines = [
            f"SQL: {sum(v[0] for v in self.stats.values()) / per:.1f} statements and "
            f"{self.total() * 1000 / per:.2f} ms per operation; by total time:"
        ]
        for key, (count, total) in sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]:
            lines.append(
                f"  {total * 1000 / per:8.2f} ms/op  {count / per:5.1f}x  {total * 1000 / count:7.2f} ms each  {key}"
            )
        return "\n".join(lines)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


@contextmanager
def profiled(name: str) -> Iterator[Callable[[str], None]]:
    """pyinstrument around the block (if installed); call the yielded function to add text to the report."""
    extra: list[str] = []
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None  # noqa: N806
    profiler = Profiler(interval=0.0005) if Profiler else None
    if profiler:
        profiler.start()
    t0 = time.perf_counter()
    yield extra.append
    elapsed = time.perf_counter() - t0
    tree = ""
    if profiler:
        profiler.stop()
        tree = profiler.output_text(unicode=False, color=False, show_all=False)
    path = CACHE / f"profile-{name}.txt"
    path.write_text(
        f"{name}: {elapsed:.2f} s\n\n" + "\n\n".join(extra) + "\n\n" + (tree or "(pyinstrument not installed)")
    )
    log(f"profile written to {path}")


def _complete(kind: str, url: str, n: int) -> None:
    from .workers import make_pool

    db = Database(url)
    ft = ensure_flow_templates()
    jobs = make_pool(db, ft, n + 6)
    engine = bench_engine()
    data = {key: flow.mid.data for key, flow in load_flows().items()}
    for task_id, user, key in jobs[:6]:  # warm the spec cache
        with db.transaction() as s:
            engine.complete(s, task_id, user, data[key])
    timer = SqlTimer(db.engine)
    with profiled(f"complete-{kind}") as add:
        t0 = time.perf_counter()
        for task_id, user, key in jobs[6:]:
            with db.transaction() as s:
                engine.complete(s, task_id, user, data[key])
        add(f"{n} completions, {(time.perf_counter() - t0) * 1000 / n:.2f} ms each")
        add(timer.report(per=n))
    timer.remove()


def _inbox(kind: str, url: str, runs: int) -> None:
    from engine.demo.people import DEMO_PASSWORD
    from web import create_app

    from .httpload import SECRET, InProcess, sign_in
    from .queues import VIEWS

    db = Database(url)
    engine = bench_engine(clock=ManualClock(ANCHOR))
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "SECRET_KEY": SECRET})
    client = InProcess(app)
    sessions = {p: sign_in(client, p, DEMO_PASSWORD) for _, p, _ in VIEWS}
    for view, person, path in VIEWS:
        client.request("GET", path, headers=sessions[person].headers())
        timer = SqlTimer(db.engine)
        with profiled(f"inbox-{kind}-{view.replace(' ', '-')}") as add:
            times = [client.request("GET", path, headers=sessions[person].headers()).ms for _ in range(runs)]
            add(f"{view} ({person} {path}): {sum(times) / runs:.1f} ms per page")
            add(timer.report(per=runs))
            add(_plans(db, timer))
        timer.remove()


def _plans(db: Database, timer: SqlTimer, top: int = 3) -> str:
    """The plans of the slowest SELECT statements (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE)."""
    slowest = [k for k, _ in sorted(timer.stats.items(), key=lambda kv: -kv[1][1]) if k.startswith("SELECT")][:top]
    out = []
    with db.engine.connect() as conn:
        for key in slowest:
            statement, params = timer.samples[key]
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
            try:
                rows = conn.exec_driver_sql(prefix + statement, params).all()
            except Exception as exc:  # noqa: BLE001
                rows = [(f"(no plan: {exc})",)]
            plan = "\n".join("    " + " ".join(str(c) for c in row) for row in rows)
            out.append(f"plan of: {key[:300]}\n{plan}")
    return "\n".join(out)


def _timers(kind: str, url: str, n: int) -> None:
    from sqlalchemy import select

    from engine.mail.compose import MailConfig
    from engine.models import ProcessDefinition
    from engine.worker.loop import Worker, WorkerSettings

    from .workers import _fire_all, prepare_timers

    db = Database(url)
    plan = prepare_timers(db, ensure_flow_templates(), n)
    clock = ManualClock(datetime.fromisoformat(plan["bpmn_clock"]))
    engine = bench_engine(clock=clock, mail=MailConfig(base_url="http://bench.invalid", secret_key="bench"))
    with db.reading() as s:
        for definition in s.scalars(select(ProcessDefinition)):
            engine.specs.get(s, definition)
    worker = Worker(db, engine, owner="bench-profile", settings=WorkerSettings(batch=50))
    timer = SqlTimer(db.engine)
    with profiled(f"timers-{kind}") as add:
        fired, seconds, failed = _fire_all(worker)
        add(f"{fired} BPMN timers fired in {seconds:.2f} s ({fired / seconds:.0f}/s), {failed} failed")
        add(timer.report(per=max(fired, 1)))
    timer.remove()


def run_profiles(kind: str, mode: Mode, what: list[str]) -> int:
    from .run import work_url

    if "inbox" in what:
        large = mode.scale_sizes[1]
        ensure_scale([ScaleTarget(kind, large)], data_key())
        _inbox(kind, ScaleTarget(kind, large).url(), runs=10)
    if "complete" in what or "timers" in what:
        url = work_url(kind)
        if "complete" in what:
            _complete(kind, url, 150)
        if "timers" in what:
            _timers(kind, url, 200)
    return 0
