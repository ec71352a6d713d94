"""The `waypoint worker` process (one round, and long-running under APScheduler) and the admin commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from engine.mail.outbox import enqueue
from engine.models import Incident, OutboxMessage, User
from tests.scheduler.conftest import FLOWS, SmtpSink

WAYPOINT = [sys.executable, "-m", "cli"]


@pytest.fixture
def cli_env(sqlite_db, smtp) -> dict[str, str]:
    return {
        "WAYPOINT_DATABASE_URL": sqlite_db.url,
        "WAYPOINT_SMTP_HOST": "127.0.0.1",
        "WAYPOINT_SMTP_PORT": str(smtp.port),
        "WAYPOINT_SMTP_FROM": "Waypoint <waypoint@waypoint.test>",
        "WAYPOINT_BASE_URL": "http://waypoint.test",
    }


def cli(env: dict[str, str], *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == expect, (args, result.output)
    return result.output


def seeded(env: dict[str, str]) -> None:
    cli(env, "seed-demo")
    cli(env, "deploy", str(FLOWS))


def test_worker_once_sends_what_is_queued(cli_env, smtp):
    seeded(cli_env)
    cli(cli_env, "start", "reminder_demo", "--as", "jdoe", "--data", '{"title": "Interpol assembly"}')
    timers = json.loads(cli(cli_env, "timers", "list", "--json"))
    assert sorted(t["kind"] for t in timers) == ["task_escalation", "task_reminder"]
    proc = subprocess.run(
        [*WAYPOINT, "worker", "--once"],
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "0 timer(s) fired, 0 failed; 1 email(s) sent" in proc.stdout
    [message] = smtp.messages
    assert (
        message["To"] == "Marc Smith <msmith@waypoint.example>"
        and "waypoint.test/tasks/" in message.get_body(("plain",)).get_content()
    )
    [row] = json.loads(cli(cli_env, "outbox", "list", "--json"))
    assert (row["status"], row["kind"], row["to"]) == ("sent", "new_task", "msmith@waypoint.example")


def test_long_running_worker_delivers_and_stops_cleanly(cli_env, smtp):
    seeded(cli_env)
    worker = subprocess.Popen(
        [*WAYPOINT, "worker", "--interval", "0.2"],
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        cli(cli_env, "start", "reminder_demo", "--as", "jdoe", "--data", '{"title": "Visit"}')
        deadline = time.time() + 20
        while not smtp.messages and time.time() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert len(smtp.messages) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "Waypoint worker" in output and "Traceback" not in output


def test_outbox_and_incident_commands(cli_env, sqlite_db, smtp):
    seeded(cli_env)
    now = datetime.now(UTC)
    with sqlite_db.transaction() as s:
        row = enqueue(s, now=now, kind="test", recipient="msmith@waypoint.example", subject="Hello", text="Hi\n")
        s.flush()
        row.status, row.attempts, row.last_error = "failed", 12, "SMTPRecipientsRefused: 550"
        s.add(Incident(kind="email", status="open", outbox_id=row.id, attempts=12, error="550 refused", created_at=now))
    [failed] = json.loads(cli(cli_env, "outbox", "list", "--status", "failed", "--json"))
    assert failed["last_error"].startswith("SMTPRecipientsRefused")
    [incident] = json.loads(cli(cli_env, "incidents", "list", "--json"))
    assert (incident["kind"], incident["status"]) == ("email", "open")
    assert "only an admin" in cli(cli_env, "incidents", "retry", str(incident["id"]), "--as", "jdoe", expect=1)
    assert "retried" in cli(cli_env, "incidents", "retry", str(incident["id"]), "--as", "admin")
    assert cli(cli_env, "incidents", "list") == "no incidents\n"
    assert "is pending, not failed" in cli(cli_env, "outbox", "retry", str(failed["id"]), expect=1)
    with sqlite_db.reading() as s:
        assert s.get(OutboxMessage, failed["id"]).status == "pending"
    assert json.loads(cli(cli_env, "incidents", "list", "--all", "--json"))[0]["resolved_by"] == "admin"


def test_outbox_retry_queues_the_email_again_and_closes_its_incident(cli_env, sqlite_db):
    seeded(cli_env)
    now = datetime.now(UTC)
    with sqlite_db.transaction() as s:
        row = enqueue(s, now=now, kind="test", recipient="msmith@waypoint.example", subject="Hello", text="Hi\n")
        s.flush()
        row.status, row.attempts = "failed", 12
        s.add(Incident(kind="email", status="open", outbox_id=row.id, attempts=12, error="550 refused", created_at=now))
        outbox_id = row.id
    assert cli(cli_env, "outbox", "retry", str(outbox_id)) == "1 email(s) queued again\n"
    with sqlite_db.reading() as s:
        assert (s.get(OutboxMessage, outbox_id).status, s.get(OutboxMessage, outbox_id).attempts) == ("pending", 0)
    assert cli(cli_env, "incidents", "list") == "no incidents\n"
    [closed] = json.loads(cli(cli_env, "incidents", "list", "--all", "--json"))
    assert (closed["status"], closed["resolved_by"]) == ("retried", "cli")
    assert "error: no outbox message with id 999" in cli(cli_env, "outbox", "retry", "999", expect=1)


def test_digest_switch(cli_env, sqlite_db):
    seeded(cli_env)
    assert cli(cli_env, "users", "digest", "msmith") == "daily digest for msmith: on\n"
    assert cli(cli_env, "users", "digest", "msmith", "--off") == "daily digest for msmith: off\n"
    with sqlite_db.reading() as s:
        assert s.scalars(select(User).where(User.username == "msmith")).one().digest_opt_out is True
    assert cli(cli_env, "users", "digest", "msmith", "--on") == "daily digest for msmith: on\n"


def test_smtp_sink_fixture_is_a_real_server():
    sink = SmtpSink().start()
    try:
        import smtplib

        with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="localhost") as client:
            client.sendmail("a@example.test", ["b@example.test"], "Subject: hi\r\n\r\nbody\r\n")
        assert [str(m["Subject"]) for m in sink.messages] == ["hi"]
    finally:
        sink.stop()
