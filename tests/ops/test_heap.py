"""Start-up objects leave the full garbage collections (engine/heap.py): in a process's first web
app and in a long-running worker, once each; measured in fresh interpreters, as this one's heap
is the suite's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import DATA_KEY, ROOT

APP = """
import gc
from web import create_app
before = gc.get_freeze_count()
create_app()
first = gc.get_freeze_count()
create_app()
print(before, first, gc.get_freeze_count())
"""

WORKER = """
import gc, cli, cli.ops
def stop(runner):  # instead of the rounds: what was frozen when they would start
    print(gc.get_freeze_count())
cli.ops.run_forever = stop
cli.main(["worker", "--interval", "60"])
"""


def _python(code: str, tmp_path, sqlite_template) -> str:
    shutil.copy(sqlite_template, tmp_path / "waypoint.db")
    env = {
        **os.environ,
        "WAYPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'waypoint.db'}",
        "WAYPOINT_DATA_KEY": DATA_KEY,
        "WAYPOINT_ATTACHMENTS_DIR": str(tmp_path / "files"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_first_web_app_of_a_process_freezes_its_start_up_objects_and_the_next_does_not(tmp_path, sqlite_template):
    before, first, second = _python(APP, tmp_path, sqlite_template).split()
    assert int(before) == 0 and int(first) > 50_000  # about 185,000: docs/benchmarks.md
    assert int(second) == int(first)  # once per process: later apps' objects are collected as usual


def test_a_long_running_worker_freezes_its_start_up_objects_before_its_first_round(tmp_path, sqlite_template):
    assert int(_python(WORKER, tmp_path, sqlite_template)) > 50_000
