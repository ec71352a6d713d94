"""The `waypoint` command line, each command a separate process: state survives restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
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
    assert "evil.bpmn:1: DTDs and entity declarations are not allowed" in refused.stderr
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


#: Every command of `waypoint`, by group (README documents them; scripts call them).
COMMANDS = {
    (): [
        "audit", "backup", "cancel", "check", "claim", "complete", "db", "demo-data", "deploy", "directory",
        "incidents", "mail-in", "mail-sink", "message", "outbox", "people", "privacy", "processes", "raise",
        "release", "restore", "roles", "seed-demo", "serve", "service-accounts", "show", "signal", "simulate",
        "start", "tasks", "timers", "tokens", "users", "worker",
    ],
    ("audit",): ["verify"],
    ("db",): ["status", "upgrade"],
    ("directory",): ["groups", "map", "sync", "unmap"],
    ("incidents",): ["list", "retry"],
    ("outbox",): ["list", "retry"],
    ("people",): ["deactivate", "reactivate"],
    ("privacy",): ["access-log", "export", "new-key", "purge", "rotate"],
    ("roles",): ["add", "list", "members", "rename", "retire"],
    ("service-accounts",): ["add", "list"],
    ("timers",): ["fire", "list"],
    ("tokens",): ["create", "list", "revoke"],
    ("users",): ["add", "digest", "grant", "revoke"],
}  # fmt: skip


def listed_commands(help_text: str) -> list[str]:
    """The command names under `Commands:` in a group's help."""
    section = help_text.split("\nCommands:\n", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and line[2] != " "]


@pytest.mark.parametrize("group", COMMANDS, ids=lambda g: " ".join(g) or "waypoint")
def test_every_command_lists_in_its_group_help_and_has_help(group):
    runner = CliRunner()
    result = runner.invoke(main, [*group, "--help"])
    assert result.exit_code == 0, result.output
    assert listed_commands(result.output) == COMMANDS[group]
    for name in COMMANDS[group]:
        if (*group, name) not in COMMANDS:
            command = runner.invoke(main, [*group, name, "-h"])
            assert command.exit_code == 0 and f"Usage: main {' '.join((*group, name))} " in command.output


def test_an_engine_error_is_one_line_on_stderr_with_exit_1(sqlite_db, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("WAYPOINT_DATABASE_URL", sqlite_db.url)
    missing = CliRunner().invoke(main, ["show", "42"])
    assert (missing.exit_code, missing.stdout, missing.stderr) == (1, "", "error: no request with id 42\n")
    no_file = CliRunner().invoke(main, ["check", str(tmp_path / "nope.bpmn")])
    assert (no_file.exit_code, no_file.stderr) == (1, f"error: no such file or folder: {tmp_path / 'nope.bpmn'}\n")
    usage = CliRunner().invoke(main, ["show", "not-a-number"])
    assert usage.exit_code == 2 and "Usage:" in usage.stderr and "error:" not in usage.stderr


def test_restore_declined_is_an_error_and_changes_nothing(sqlite_db, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("WAYPOINT_DATABASE_URL", sqlite_db.url)
    declined = CliRunner().invoke(main, ["restore", str(tmp_path / "backup.db")], input="n\n")
    assert (declined.exit_code, declined.stderr) == (1, "error: nothing restored\n")
