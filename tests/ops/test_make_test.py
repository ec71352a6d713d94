"""`make test` as the README gives it: the whole suite in parallel, one test process per core (at
most 4), and in one process with PYTEST_WORKERS=0."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import ROOT


def make_dry_run(*arguments: str) -> str:
    """What `make -n` prints for `arguments` as a newcomer's shell would run it (nothing is installed
    or started; no variable of the make running this suite leaks in)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_WORKERS", "PYTEST_ARGS", "MAKEFLAGS")}
    return subprocess.run(
        ["make", "-n", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def _pytest_line(**variables: str) -> list[str]:
    """The pytest command `make test` would run."""
    printed = make_dry_run("test", *(f"{name}={value}" for name, value in variables.items()))
    (line,) = [line for line in printed.splitlines() if " -m pytest" in line]
    return line.split()


def test_make_test_runs_one_test_process_per_core_and_one_when_asked():
    parallel = _pytest_line()
    assert parallel[parallel.index("-n") + 1] == "auto" and parallel[parallel.index("--maxprocesses") + 1] == "4"
    single = _pytest_line(PYTEST_WORKERS="0", PYTEST_ARGS="-k one_test")
    assert single[single.index("-n") + 1] == "0" and single[-2:] == ["-k", "one_test"]
    import xdist  # the plugin that reads -n: installed with the test dependencies

    assert xdist.__version__
