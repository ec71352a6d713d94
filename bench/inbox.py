"""Inbox page timings with many open tasks (server time through the Flask test client).

Usage: .venv/bin/python bench/inbox.py [--tasks 10000] [--runs 30] [--database sqlite|postgresql]
Creates N requests of the small test process (one open approval task each, spread over
assignees, the supervisors' queue and overdue), then times each inbox view: median and p95 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Database, Engine, ManualClock  # noqa: E402
from engine.demo import seed_demo_users  # noqa: E402
from engine.users import find_user  # noqa: E402
from web import create_app  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
VIEWS = {
    "my tasks": "/inbox",
    "team queue": "/inbox?tab=queue",
    "overdue": "/inbox?tab=overdue",
    "search": "/inbox?q=laptop%2042",
    "filtered, page 5": "/inbox?step=Supervisor+review&sort=-age&page=5",
}


def database(kind: str, folder: str, keep: str | None) -> Database:
    if kind == "sqlite":
        return Database(f"sqlite:///{keep or folder + '/inbox.db'}")
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS wp_bench_inbox CASCADE; CREATE SCHEMA wp_bench_inbox"))
    return Database(f"{PG}?options=-csearch_path%3Dwp_bench_inbox")


def populate(db: Database, engine: Engine, clock: ManualClock, tasks: int) -> None:
    rng = random.Random(42)
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
        engine.deploy(s, [ROOT / "tests" / "engine" / "fixtures" / "small"])
    starters = ["jdoe", "rmartin", "dlee", "admin"]  # msmith's reports, and two without a manager (queue)
    done = 0
    while done < tasks:
        with db.transaction() as s:
            for _ in range(min(500, tasks - done)):
                engine.start(
                    s,
                    "small_approval",
                    {"title": f"Laptop {done}", "amount": rng.randint(100, 5000)},
                    rng.choice(starters),
                )
                done += 1
        clock.advance(hours=1)  # spread creation (and due) times: the oldest are overdue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--keep", help="SQLite file to reuse (populated on first use)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = database(args.database, folder, args.keep)
        reused = args.keep and Path(args.keep).exists() and Path(args.keep).stat().st_size > 0
        db.upgrade()
        clock = ManualClock()
        engine = Engine(clock=clock)
        if not reused:
            started = time.perf_counter()
            populate(db, engine, clock, args.tasks)
            print(f"{args.tasks} open tasks created in {time.perf_counter() - started:.1f} s ({args.database})")
        clock.set(clock.now() + timedelta(hours=args.tasks // 500 + 24))
        app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "TESTING": True})
        client = app.test_client()
        with db.reading() as s:
            uid = find_user(s, "msmith").id
        with client.session_transaction() as sess:
            sess["uid"] = uid
        print(f"{'view':<18} {'median ms':>9} {'p95 ms':>8}")
        for name, url in VIEWS.items():
            for _ in range(3):
                client.get(url)
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                page = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert page.status_code == 200
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"{name:<18} {statistics.median(times):9.1f} {p95:8.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
