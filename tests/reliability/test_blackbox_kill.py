"""Black-box crashes (issue 19): SIGKILL the real `gunicorn 'web:create_app()'` (the README's
production recipe) under HTTP load, and a real `waypoint worker` in the middle of an SMTP dialogue
with a real aiosmtpd server on loopback; then `waypoint audit verify`, the consistency check of
tests/reliability/harness.py, and the counts: nothing torn, nothing acknowledged lost, no email
sent twice.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from engine import Database
from engine.demo.people import seed_demo_users
from engine.models import OutboxMessage, ProcessInstance, TaskRecord, User
from engine.people.api_tokens import create_token
from tests.conftest import DATA_KEY, FIXTURES, ROOT, make_engine
from tests.reliability.harness import check_consistency
from tests.scheduler.conftest import free_port

KILLS = 3
LOAD_SECONDS = 2.0


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WAYPOINT_DATABASE_URL": url,
        "WAYPOINT_SECRET_KEY": "k" * 40,
        "WAYPOINT_DATA_KEY": DATA_KEY,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def _prepared(tmp_path: Path) -> tuple[Database, Any, str, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'blackbox.db'}"
    db = Database(url)
    db.upgrade()
    engine = make_engine()
    with db.transaction() as s:
        seed_demo_users(s, engine.clock.now(), password="pw")
        engine.deploy(s, [FIXTURES / "small"])
        users = {u.username: u for u in s.scalars(select(User))}
        tokens = {n: create_token(s, users[n], "load", now=engine.clock.now()).secret for n in ("jdoe", "msmith")}
    return db, engine, url, tokens


def _call(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _load(base: str, tokens: dict[str, str], until: float, acked: dict[str, list]) -> None:
    """Start requests as jdoe and approve msmith's tasks, noting every write the server acknowledged."""
    n = 0
    while time.monotonic() < until:
        n += 1
        try:
            status, body = _call(
                base,
                tokens["jdoe"],
                "POST",
                "/instances",
                {"process": "small_approval", "data": {"title": f"load {n}", "amount": 10}},
            )
            if status == 201:
                acked["started"].append(body["id"])
            status, page = _call(base, tokens["msmith"], "GET", "/tasks?scope=mine&limit=5")
            for task in page.get("items", [])[:2] if status == 200 else []:
                done, _ = _call(
                    base, tokens["msmith"], "POST", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}
                )
                if done == 200:
                    acked["completed"].append(task["id"])
        except (OSError, http.client.HTTPException):  # killed mid-answer, or down until its restart
            time.sleep(0.05)


def _serve(url: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "web:create_app()"],
        env=_env(url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def _audit_verify(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", "audit", "verify"],
        env=_env(url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sigkill_gunicorn_under_load_tears_and_loses_nothing(tmp_path):
    db, engine, url, tokens = _prepared(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    acked: dict[str, list] = {"started": [], "completed": []}
    for _ in range(KILLS):
        server = _serve(url, port)
        try:
            _wait_up(base)
            until = time.monotonic() + LOAD_SECONDS
            clients = [threading.Thread(target=_load, args=(base, tokens, until, acked)) for _ in range(3)]
            for client in clients:
                client.start()
            time.sleep(LOAD_SECONDS * 0.7)
            os.killpg(server.pid, signal.SIGKILL)  # the master and its workers, mid-request
            for client in clients:
                client.join(30)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    assert acked["started"] and acked["completed"], acked

    verified = _audit_verify(url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert check_consistency(db, engine).instances >= len(set(acked["started"]))  # fails on any torn instance
    with db.reading() as s:
        stored = set(s.scalars(select(ProcessInstance.id)))
        completed = set(s.scalars(select(TaskRecord.id).where(TaskRecord.status == "completed")))
    assert set(acked["started"]) <= stored  # every acknowledged start survived the kills
    assert set(acked["completed"]) <= completed  # and every acknowledged approval
    db.dispose()


class SlowSink:
    """A real SMTP server that holds each RCPT for a moment, so a kill lands mid-dialogue."""

    def __init__(self) -> None:
        self.port = free_port()
        self.message_ids: list[str] = []
        self.in_dialogue = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.in_dialogue.set()
        await asyncio.sleep(0.3)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        message = message_from_bytes(envelope.original_content or envelope.content)
        self.message_ids.append(str(message["Message-ID"]))
        return "250 OK"


def _pending(db: Database) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")))


def test_sigkill_the_worker_mid_smtp_sends_every_email_once(tmp_path):
    db, engine, url, _ = _prepared(tmp_path)
    with db.transaction() as s:
        for n in range(8):
            engine.start(s, "small_approval", {"title": f"mail {n}", "amount": 10}, "jdoe")
    total = _pending(db)
    assert total >= 8
    sink = SlowSink()
    sink.controller.start()
    env = _env(url, WAYPOINT_SMTP_PORT=str(sink.port), WAYPOINT_SMTP_TIMEOUT="5")
    try:
        for _ in range(2):  # killed twice in the middle of an SMTP dialogue
            sink.in_dialogue.clear()
            worker = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker", "--interval", "0.2"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # the second worker waits for the first one's leases (a minute: WorkerSettings.email_lease)
            # before it may send: the wait covers them and a loaded machine's start-up
            assert sink.in_dialogue.wait(150), "the worker never reached the SMTP server"
            time.sleep(0.1)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        # the dead workers' leases run out after a minute (README); a new worker finishes the job
        survivor = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--interval", "0.5"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 150
            while _pending(db) and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(30)
    finally:
        sink.controller.stop()
    assert _pending(db) == 0
    counts = Counter(sink.message_ids)
    assert len(counts) == total and set(counts.values()) == {1}, counts  # each email once, none twice
    verified = _audit_verify(url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert check_consistency(db, engine).instances >= 8  # fails on any torn instance
    db.dispose()
