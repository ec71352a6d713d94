"""Per-action cost of the engine: start an instance, complete one task (SQLite and PostgreSQL).

Usage: .venv/bin/python bench/actions.py [--runs N]
Prints medians and 95th percentiles in milliseconds, each next to the bare SpiffWorkflow
cycle (deserialize + complete + run + serialize) on the same instance, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Database, Engine  # noqa: E402
from engine.demo import seed_demo_users  # noqa: E402
from engine.models import ProcessInstance  # noqa: E402
from engine.queries import list_tasks  # noqa: E402
from engine.serialization import dump, load  # noqa: E402

PROCESS = ROOT / "tests" / "engine" / "fixtures" / "small"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(db: Database, runs: int) -> dict[str, list[float]]:
    db.upgrade()
    engine = Engine()
    with db.transaction() as s:
        seed_demo_users(s, engine.clock.now(), password=None)
        engine.deploy(s, [PROCESS])
    times: dict[str, list[float]] = {"start": [], "complete": [], "bare": []}
    for i in range(runs + 5):  # the first five are warm-up
        t0 = time.perf_counter()
        with db.transaction() as s:
            iid = engine.start(s, "small_approval", {"title": f"r{i}", "amount": 10}, "jdoe").id
        t1 = time.perf_counter()
        with db.reading() as s:
            [task] = list_tasks(s, instance_id=iid)
            row = s.get(ProcessInstance, iid)
            state, parsed = row.state, engine.definition_for(s, row)
        b0 = time.perf_counter()
        wf = load(state, parsed, engine.script_engine)
        [ready] = [t for t in wf.get_tasks() if str(t.id) == task.id]
        ready.data.update(decision="reject")
        ready.run()
        wf.do_engine_steps()
        dump(wf)
        b1 = time.perf_counter()
        t2 = time.perf_counter()
        with db.transaction() as s:
            engine.complete(s, task.id, "msmith", {"decision": "reject"})
        t3 = time.perf_counter()
        if i >= 5:
            times["start"].append((t1 - t0) * 1000)
            times["complete"].append((t3 - t2) * 1000)
            times["bare"].append((b1 - b0) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("sqlite", Database(f"sqlite:///{tmp}/bench.db")))
        try:
            admin = create_engine(PG)
            with admin.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS wp_bench CASCADE; CREATE SCHEMA wp_bench"))
            targets.append(("postgresql", Database(f"{PG}?options=-csearch_path%3Dwp_bench")))
        except Exception as exc:
            print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
        print(f"{'database':<11} {'action':<9} {'median ms':>9} {'p95 ms':>8} {'bare median':>11} {'ratio':>6}")
        for name, db in targets:
            t = measure(db, args.runs)
            bare = statistics.median(t["bare"])
            for action in ("start", "complete"):
                med = statistics.median(t[action])
                print(f"{name:<11} {action:<9} {med:9.2f} {pct(t[action], 0.95):8.2f} {bare:11.2f} {med / bare:6.1f}")
            db.dispose()


if __name__ == "__main__":
    main()
