"""The composition roots: settings read once per process (mail included), the `workflows` glue
registered explicitly, the engine never importing `workflows`, one logging set-up for web and worker."""

from __future__ import annotations

import ast
import json
import os
import selectors
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from engine import Settings
from engine.mail.outbox import enqueue
from tests.conftest import ROOT
from tests.scheduler.conftest import FLOWS, free_port, outbox_rows, start
from web import create_app

MAIL_ENV = {
    "WAYPOINT_BASE_URL": "https://waypoint.example.org",
    "WAYPOINT_SECRET_KEY": "composition-test-secret-of-some-length",
    "WAYPOINT_MAIL_REPLY_DOMAIN": "reply.example.org",
    "WAYPOINT_EMAIL_TOKEN_DAYS": "2",
    "WAYPOINT_DIGEST_HOUR": "6",
}


@pytest.fixture
def from_env_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of `Settings.from_env` (one entry per call)."""
    calls: list[int] = []
    original = Settings.from_env.__func__  # type: ignore[attr-defined]

    def counting(cls, env=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(cls, env)

    monkeypatch.setattr(Settings, "from_env", classmethod(counting))
    return calls


def test_settings_hold_mail_and_logging():
    settings = Settings.from_env({**MAIL_ENV, "WAYPOINT_EMAILS": "off", "WAYPOINT_LOG_JSON": "1"})
    assert settings.mail.reply_domain == "reply.example.org"
    assert (settings.mail.token_days, settings.mail.digest_hour, settings.mail.enabled) == (2.0, 6, False)
    assert settings.log_json is True
    defaults = Settings.from_env({})
    assert (defaults.mail.reply_domain, defaults.mail.enabled, defaults.log_json) == (None, True, False)


def test_the_app_reads_settings_once_and_its_actions_never(people, from_env_calls, monkeypatch):
    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)
    app = create_app({"WAYPOINT_DB": people, "TESTING": True})
    engine = app.extensions["waypoint.engine"]
    assert len(from_env_calls) == 1
    assert "conference_total_cost" in engine.helpers  # the workflows glue, registered by create_app
    config = engine.mail.config
    assert (config.base_url, config.secret_key, config.reply_domain) == (
        "https://waypoint.example.org",
        "composition-test-secret-of-some-length",
        "reply.example.org",
    )
    assert (config.token_ttl.days, config.digest_hour) == (2, 6)
    monkeypatch.setenv("WAYPOINT_MAIL_REPLY_DOMAIN", "changed.example.org")  # read at start only
    with people.transaction() as s:
        engine.deploy(s, [FLOWS])
    start(people, engine)
    [email] = outbox_rows(people, "new_task")
    assert email.reply_to is not None and email.reply_to.endswith("@reply.example.org")
    assert "https://waypoint.example.org/tasks/" in email.body_text
    assert len(from_env_calls) == 1  # no action read the environment again


def test_the_cli_builds_one_settings_and_one_engine(from_env_calls, monkeypatch):
    from cli import Context

    monkeypatch.setenv("WAYPOINT_MAIL_REPLY_DOMAIN", "reply.example.org")
    ctx = Context()
    engine = ctx.engine
    assert ctx.engine is engine and "passport_renewal_required" in engine.helpers
    assert engine.mail.config.reply_domain == "reply.example.org"
    assert len(from_env_calls) == 1


def test_engine_never_imports_workflows():
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == "workflows" or n.startswith("workflows.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, pkgutil, sys, engine\n"
            "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
            "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] == 'workflows'))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_an_engine_without_glue_has_none():
    from engine import Engine

    engine = Engine()
    assert engine.glue.processes == {} and "conference_total_cost" not in engine.helpers


def test_the_worker_logs_json_lines_with_waypoint_log_json(sqlite_db, tmp_path):
    with sqlite_db.transaction() as s:  # an email to send to an SMTP server that is not there
        enqueue(s, now=datetime.now(UTC), kind="digest", recipient="jdoe@example.org", subject="Hi", text="Hi")
    env = {
        **os.environ,
        "WAYPOINT_DATABASE_URL": str(sqlite_db.engine.url),
        "WAYPOINT_LOG_JSON": "1",
        "WAYPOINT_SMTP_HOST": "127.0.0.1",
        "WAYPOINT_SMTP_PORT": str(free_port()),
        "WAYPOINT_SMTP_TIMEOUT": "2",
        "WAYPOINT_DATA_KEY_FILE": str(tmp_path / "none.key"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line_about(worker, "SMTP", timeout=30)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        worker.stderr.close()  # type: ignore[union-attr]
    entry = json.loads(line)
    assert (entry["level"], entry["logger"]) == ("WARNING", "waypoint.outbox")
    assert "SMTP connection" in entry["message"]


def _first_line_about(process: subprocess.Popen, word: str, timeout: float) -> str:
    """The first stderr line of `process` that mentions `word` (fails after `timeout` seconds)."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.5):
            line = process.stderr.readline()
            seen.append(line)
            if word in line:
                return line
    raise AssertionError(f"no stderr line about {word!r} within {timeout}s: {''.join(seen)[-2000:]}")


def test_apschedulers_warnings_share_the_json_lines():
    """The worker runs on APScheduler: its warnings (a missed run) are JSON lines like Waypoint's own."""
    script = (
        "import logging; from engine import logs; logs.configure(True); "
        "logging.getLogger('apscheduler.scheduler').warning('Run time of job was missed'); "
        "logging.getLogger('apscheduler.scheduler').info('not shown')"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("WARNING", "apscheduler.scheduler", "Run time of job was missed")
    ]
