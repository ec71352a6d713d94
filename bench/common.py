"""Shared pieces of the benchmark: settings per mode, databases, statistics, process memory, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

import workflows
from engine import Engine

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results.json"
BPMN = ROOT / "bpmn"
PG_BASE = os.environ.get("WAYPOINT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KINDS = ("sqlite", "postgresql")
#: The scale data's "now": demo requests are generated over the year before it (reproducible runs).
ANCHOR = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
#: The benchmark's own personal-data key (engine/privacy/vault.py): fixed, so cached data sets stay readable; it is
#: set for every engine, child process and server of the benchmark, whatever the environment says.
BENCH_DATA_KEY = "bench:YmVuY2gtZGF0YS1rZXktMzItYnl0ZXMtbG9uZyEhISE="
os.environ["WAYPOINT_DATA_KEY"] = BENCH_DATA_KEY


def bench_engine(**options: Any) -> Engine:
    """An engine wired like the app's: the `workflows` glue and the benchmark's data key (`options` override)."""
    return Engine(**{"glue": workflows.registry(), "data_key": BENCH_DATA_KEY, **options})


@dataclass(frozen=True)
class Mode:
    """How much to measure: `full` (make bench, under 10 minutes) or `quick` (about 2 minutes)."""

    name: str
    runs: int  # measured repetitions per figure (after `warmup`)
    warmup: int
    bare_runs: int
    throughput_seconds: float
    scale_sizes: tuple[int, int]  # (small, large) instance counts for the queue growth figure
    page_runs: int
    timers: int  # BPMN timers (and reminders) fired per scheduler run


FULL = Mode(
    "full",
    runs=30,
    warmup=5,
    bare_runs=40,
    throughput_seconds=30.0,
    scale_sizes=(10_000, 100_000),
    page_runs=40,
    timers=300,
)
QUICK = Mode(
    "quick",
    runs=8,
    warmup=2,
    bare_runs=12,
    throughput_seconds=6.0,
    scale_sizes=(1_000, 10_000),
    page_runs=12,
    timers=80,
)


def pg_url(schema: str) -> str:
    """The PostgreSQL URL of one benchmark schema (search_path set per connection)."""
    return f"{PG_BASE}?options=-csearch_path%3D{schema}"


def pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_BASE)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return str(exc).strip().splitlines()[0]


def reset_pg_schema(schema: str) -> None:
    """Drop and recreate a benchmark schema."""
    engine = create_engine(PG_BASE)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- statistics -----------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (q=0.95: the 95th percentile)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def summary(values_ms: list[float]) -> dict[str, Any]:
    """Median, p95, min and count of a list of milliseconds."""
    if not values_ms:
        return {"n": 0, "median": None, "p95": None, "min": None}
    return {
        "n": len(values_ms),
        "median": round(statistics.median(values_ms), 3),
        "p95": round(pct(values_ms, 0.95), 3),
        "min": round(min(values_ms), 3),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


# --- memory --------------------------------------------------------------------------------------
def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a process, in MiB (None when gone)."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size now (VmRSS) of a process, in MiB (None when gone)."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int | str, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# --- results -------------------------------------------------------------------------------------
@dataclass
class Results:
    """Every figure of one run, written to bench/results.json and printed as a table."""

    mode: str
    environment: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def put(self, section: str, key: str, value: Any) -> None:
        self.sections.setdefault(section, {})[key] = value

    def note(self, text_: str) -> None:
        print(f"  note: {text_}", flush=True)
        self.notes.append(text_)

    def write(self, path: Path = RESULTS) -> None:
        data = {
            "mode": self.mode,
            "environment": self.environment,
            "wall_seconds": round(time.time() - self.started, 1),
            "sections": self.sections,
            "notes": self.notes,
        }
        path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def environment(kinds: list[str]) -> dict[str, Any]:
    """Versions and machine: the environment line of the table."""
    import flask
    import SpiffWorkflow
    import sqlalchemy

    env = {
        "python": platform.python_version(),
        "spiffworkflow": getattr(SpiffWorkflow, "__version__", None) or _dist_version("SpiffWorkflow"),
        "sqlalchemy": sqlalchemy.__version__,
        "flask": flask.__version__ if hasattr(flask, "__version__") else _dist_version("flask"),
        "sqlite": __import__("sqlite3").sqlite_version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "git": _git_head(),
        "databases": kinds,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if "postgresql" in kinds:
        try:
            engine = create_engine(PG_BASE)
            with engine.connect() as conn:
                env["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
            engine.dispose()
        except Exception:  # noqa: BLE001
            env["postgresql"] = None
    return env


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git_head() -> str | None:
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (ROOT / ".git" / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        return None


@contextmanager
def phase(title: str) -> Iterator[None]:
    """Print a phase's start and its duration."""
    print(f"[{time.strftime('%H:%M:%S')}] {title} ...", flush=True)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        print(f"[{time.strftime('%H:%M:%S')}] {title}: {time.perf_counter() - t0:.1f} s", flush=True)


def log(message: str) -> None:
    print(f"  {message}", flush=True)


def python() -> str:
    return sys.executable
