"""`python -m bench`: every figure of docs/benchmarks.md, printed as one table and written to bench/results.json.

Usage:
  python -m bench [--quick] [--db sqlite,postgresql] [--only actions,throughput,scheduler,queues,storage]
                  [--rebuild]
  python -m bench build [--quick] [--db ...] [--rebuild]     build (or check) the cached data sets only
  python -m bench profile [--db sqlite] [--what complete,inbox,timers]   pyinstrument profiles (bench/.cache/)

`make bench` runs the full mode (under 10 minutes on 2 cores, cold data build included); `--quick` takes
about 2 minutes on smaller data sets (1,000 and 10,000 instances) and fewer runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine import Database

from .common import (
    CACHE,
    FULL,
    KINDS,
    QUICK,
    RESULTS,
    Mode,
    Results,
    environment,
    log,
    pg_available,
    pg_url,
    phase,
    remove_sqlite,
    reset_pg_schema,
    sqlite_url,
)
from .data import ScaleTarget, data_key, ensure_flow_templates, ensure_scale, prepare, template_key

SECTIONS = ("actions", "throughput", "scheduler", "queues", "storage")
MEMORY_TARGET = 200.0


def work_url(kind: str) -> str:
    """A fresh, prepared database for the actions, throughput and scheduler figures."""
    if kind == "sqlite":
        path = CACHE / "work.db"
        CACHE.mkdir(parents=True, exist_ok=True)
        remove_sqlite(path)
        url = sqlite_url(path)
    else:
        reset_pg_schema("wp_bench_run")
        url = pg_url("wp_bench_run")
    db = Database(url)
    prepare(db)
    db.dispose()
    return url


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "build", "profile"])
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer runs (about 2 minutes)")
    parser.add_argument("--db", default=",".join(KINDS), help="sqlite, postgresql or both (default)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run ({', '.join(SECTIONS)})")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached data sets")
    parser.add_argument("--what", default="complete,inbox,timers", help="profile: what to profile")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results JSON")
    return parser.parse_args(argv)


def quiet_request_log() -> None:
    """In-process apps log each request like the server does, to bench/.cache/requests.log, not the terminal."""
    import logging

    CACHE.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(CACHE / "requests.log", mode="w")  # a StreamHandler: web/logs keeps it
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger("waypoint").addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    quiet_request_log()
    mode: Mode = QUICK if args.quick else FULL
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown database kind(s): {', '.join(sorted(unknown))}")
    results = Results(mode.name)
    if "postgresql" in kinds:
        why = pg_available()
        if why:
            kinds.remove("postgresql")
            results.note(f"PostgreSQL skipped: {why}")
    if args.command == "profile":
        from .profile import run_profiles

        return run_profiles(kinds[0] if kinds else "sqlite", mode, args.what.split(","))
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    results.environment = environment(kinds)
    started = time.perf_counter()
    key = data_key()
    needs_scale = bool({"scheduler", "queues", "storage"} & set(sections)) or args.command == "build"
    small, large = mode.scale_sizes
    targets = [ScaleTarget(kind, size) for kind in kinds for size in (large, small)] if needs_scale else []
    with phase("data sets"):
        metas, build_seconds = ensure_scale(targets, key, rebuild=args.rebuild)
        results.put("data", "key", key)
        results.put("data", "template_key", template_key())
        results.put("data", "build_seconds", round(build_seconds, 1))
        results.put(
            "data",
            "sets",
            {
                name: {
                    k: m[k]
                    for k in ("instances", "open_tasks", "running", "rows", "build_seconds", "checks", "built_at")
                }
                for name, m in metas.items()
            },
        )
        results.put("data", "templates", next(iter(metas.values()))["templates"] if metas else None)
    if args.command == "build":
        print(json.dumps(results.sections["data"], indent=1, default=str))
        return 0
    flow_templates = ensure_flow_templates() if {"throughput", "scheduler"} & set(sections) else None
    from . import actions, queues, storage, workers
    from .flows import load_flows

    flows = load_flows()
    memory: dict[str, Any] = {}
    for kind in kinds:
        url = work_url(kind)
        large_url = ScaleTarget(kind, large).url() if needs_scale else None
        complete_ms = None
        if "actions" in sections:
            with phase(f"{kind}: start and complete (figures 1, 2)"):
                out = actions.run(kind, url, flows, mode)
                results.put("actions", kind, out)
                complete_ms = out["processes"]["conference_attendance"]["complete"]["engine"]["median"]
                memory[f"web worker ({kind}, start/complete)"] = out["server_peak_rss_mb"]
        if "throughput" in sections:
            with phase(f"{kind}: throughput (figure 3)"):
                out = workers.throughput(kind, url, flow_templates, mode, complete_ms)
                results.put("throughput", kind, out)
                memory[f"engine worker ({kind}, throughput)"] = max(filter(None, out["peak_rss_mb"]), default=None)
                log(f"{kind}: {out['per_second']} completions/s")
        if "scheduler" in sections:
            with phase(f"{kind}: scheduler (figure 5)"):
                out = workers.scheduler(kind, url, flow_templates, mode, large_url)
                results.put("scheduler", kind, out)
                memory[f"scheduler worker ({kind})"] = out["peak_rss_mb"]
                log(f"{kind}: {out['bpmn']['per_second']} BPMN timers/s, {out['reminders']['per_second']} reminders/s")
    for kind in kinds:
        if "queues" in sections:
            with phase(f"{kind}: inbox pages at {small:,} and {large:,} instances (figure 4)"):
                small_pages = queues.pages(ScaleTarget(kind, small).url(), mode)
                large_pages = queues.pages(ScaleTarget(kind, large).url(), mode)
                http = queues.over_http(ScaleTarget(kind, large).url(), f"{kind}-inbox", mode)
                meta = metas.get(ScaleTarget(kind, large).name, {})
                results.put(
                    "queues",
                    kind,
                    {
                        "small_size": small,
                        "large_size": large,
                        "large_open_tasks": meta.get("open_tasks"),
                        "small": small_pages,
                        "large": large_pages,
                        "http": http,
                        "growth": queues.growth(small_pages, large_pages),
                    },
                )
                memory[f"web worker ({kind}, inbox at {large:,})"] = http["server_peak_rss_mb"]
        if "storage" in sections:
            with phase(f"{kind}: storage (figure 6)"):
                db = Database(ScaleTarget(kind, large).url())
                results.put("storage", kind, storage.measure(db))
                db.dispose()
    for name, peak in memory.items():
        if peak is not None:
            target = MEMORY_TARGET if name.startswith(("web", "scheduler")) else None
            results.put(
                "memory", name, {"peak_mb": peak, "target": target, "pass": peak <= MEMORY_TARGET if target else None}
            )
    results.put("run", "seconds", round(time.perf_counter() - started, 1))
    results.write(__import__("pathlib").Path(args.output))
    from .report import render

    data = json.loads(__import__("pathlib").Path(args.output).read_text())
    table, misses = render(data)
    print()
    print(table)
    (CACHE / "table.txt").write_text(table + "\n")
    print(f"\nresults: {args.output}")
    return 0
