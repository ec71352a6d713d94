"""The `waypoint` command line, each command a separate process: state survives restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

WAYPOINT = [sys.executable, "-m", "cli"]


def run(url: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "WAYPOINT_DATABASE_URL": url}
    proc = subprocess.run(
        [*WAYPOINT, *args], capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == expect, (args, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_cli_walks_a_process_end_to_end(db):
    url = db.url
    run(url, "seed-demo")
    assert run(url, "deploy", str(FIXTURES / "small")).stdout.split() == ["small_approval", "version", "1", "deployed"]
    assert run(url, "deploy", str(FIXTURES / "small"), "--json").stdout.count('"created": false') == 1
    [process] = json.loads(run(url, "processes", "--json").stdout)
    assert (process["key"], process["version"]) == ("small_approval", 1)

    instance_id = run(
        url, "start", "small_approval", "--as", "jdoe", "--data", '{"title": "Laptop", "amount": 1000}'
    ).stdout.strip()
    assert instance_id == "1"
    [task] = json.loads(run(url, "tasks", "--user", "msmith", "--json").stdout)
    assert (task["name"], task["assignee"], task["requester"]) == ("Supervisor review", "msmith", "jdoe")
    assert json.loads(run(url, "tasks", "--user", "fchan", "--json").stdout) == []

    denied = run(url, "complete", task["id"][:8], "--as", "fchan", "--data", '{"decision": "approve"}', expect=1)
    assert "error: task 'Supervisor review' is assigned to Marc Smith" in denied.stderr
    done = run(url, "complete", task["id"][:8], "--as", "msmith", "--data", '{"decision": "approve"}')
    assert "completed 'Supervisor review' on #1; request is running" in done.stdout
    again = run(url, "complete", task["id"], "--as", "msmith", "--data", '{"decision": "approve"}', expect=1)
    assert "already completed by Marc Smith" in again.stderr

    run(url, "message", "payment_confirmed", "--data", '{"order_ref": "PO-1"}')
    view = json.loads(run(url, "show", instance_id, "--json").stdout)
    assert (view["status"], view["outcome"]) == ("completed", "Approved")
    assert [e["action"] for e in view["audit"]] == ["started", "task_completed", "message_received", "ended"]
    assert "Approved" in run(url, "show", instance_id).stdout
    assert "0 break(s)" in run(url, "audit", "verify").stdout


def test_cli_bad_input_gives_clear_errors(sqlite_db, tmp_path: Path):
    url = sqlite_db.url
    bad_json = run(url, "start", "small_approval", "--data", "{nope", expect=2)
    assert "--data is not valid JSON" in bad_json.stderr
    assert "no process with key 'nope'" in run(url, "start", "nope", expect=1).stderr
    assert (
        "no task with id" in run(url, "complete", "00000000-0000-0000-0000-000000000000", "--as", "x", expect=1).stderr
    )
    assert "no request with id 42" in run(url, "show", "42", expect=1).stderr
    hostile = tmp_path / "evil.bpmn"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    refused = run(url, "deploy", str(hostile), expect=1)
    assert "evil.bpmn: DTDs and entity declarations are not allowed" in refused.stderr
    assert "unknown role" in run(url, "users", "add", "zed", "--role", "pilot", expect=1).stderr


def test_cli_dead_database_and_missing_schema(tmp_path: Path):
    dead = run("postgresql+psycopg://postgres@127.0.0.1:1/none", "tasks", expect=1)
    assert "error: cannot reach the database" in dead.stderr
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    behind = run(empty, "processes", expect=1)
    assert "run `waypoint db upgrade` first" in behind.stderr
    assert "database upgraded from (empty) to" in run(empty, "db", "upgrade").stdout
    assert "already at revision" in run(empty, "db", "upgrade").stdout
    assert "up to date" in run(empty, "db", "status").stdout


@pytest.mark.parametrize(
    "command",
    [
        "deploy",
        "start",
        "tasks",
        "complete",
        "claim",
        "message",
        "show",
        "users",
        "processes",
        "check",
        "cancel",
        "timers",
        "db",
        "serve",
        "audit",
    ],
)
def test_every_command_has_help(command):
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
