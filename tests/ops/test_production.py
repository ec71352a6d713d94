"""Production serving, as documented: 2 gunicorn workers and 2 `waypoint worker` processes on
PostgreSQL, driven over real HTTP on loopback."""

from __future__ import annotations

import base64
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine import Database
from engine.demo.people import seed_demo_users
from tests.conftest import FIXTURES, PG_ADMIN_URL, _postgres_problem, make_engine

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BehindTls(http.cookiejar.DefaultCookiePolicy):
    """The TLS proxy's side: production marks the cookie Secure, and this plain-HTTP hop on loopback
    is the one the proxy makes, so the Secure cookie goes back as a browser's would over HTTPS."""

    def return_ok_secure(self, cookie, request):  # type: ignore[no-untyped-def]
        return True


class Client:
    def __init__(self, base: str):
        self.base = base
        jar = http.cookiejar.CookieJar(policy=BehindTls())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.opener.addheaders = [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "192.0.2.10")]

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        with self.opener.open(request, timeout=30) as r:
            return r.read().decode()

    def post(self, path: str, data: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, user: str) -> str:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/login")).group(1)
        status, page = self.post("/login", {"username": user, "password": "pw", "csrf_token": token})
        assert status == 200, page[-500:]
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def pg_url():
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    schema = f"wp_prod_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_two_gunicorn_workers_and_two_scheduler_workers(pg_url, tmp_path):
    db = Database(pg_url)
    db.upgrade()
    engine = make_engine()
    with db.transaction() as s:
        seed_demo_users(s, engine.clock.now(), password="pw")
        engine.deploy(s, [FIXTURES / "small"])
    db.dispose()
    port = free_port()
    env = {
        **os.environ,
        "WAYPOINT_DATABASE_URL": pg_url,
        "WAYPOINT_ENV": "production",
        "WAYPOINT_HTTPS": "1",
        "WAYPOINT_TRUSTED_PROXIES": "1",
        "WAYPOINT_METRICS_TOKEN": "scrape-token-0123456789",
        "WAYPOINT_SECRET_KEY": "x" * 40,
        "WAYPOINT_DATA_KEY": "k1:" + base64.b64encode(b"k" * 32).decode(),
        "WAYPOINT_EMAILS": "0",
    }
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(tmp_path),
            "web:create_app()",
        ],
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                Client(base).get("/login")
                break
            except OSError:
                time.sleep(0.2)
        jdoe, msmith = Client(base), Client(base)
        token = jdoe.login("jdoe")
        started = []
        for n in range(6):
            status, page = jdoe.post(
                "/requests/new/small_approval", {"csrf_token": token, "title": f"Prod {n}", "amount": "10"}
            )
            assert status == 200 and "Request #" in page, page[-500:]
            started.append(n)
        token = msmith.login("msmith")
        tasks = list(dict.fromkeys(re.findall(r'href="/tasks/([0-9a-f-]{36})"', msmith.get("/inbox"))))
        assert len(tasks) == 6
        for task_id in tasks:
            status, _ = msmith.post(f"/tasks/{task_id}", {"csrf_token": token, "decision": "reject"})
            assert status == 200
        assert re.findall(r'href="/tasks/', msmith.get("/inbox")) == []
        for _ in range(100):  # both scheduler workers report in
            if '"status": "ok"' in Client(base).get("/healthz").replace('":"', '": "'):
                break
            time.sleep(0.2)
        assert '"ok"' in Client(base).get("/healthz")
        scrape = {"Authorization": "Bearer scrape-token-0123456789"}  # clients come through the proxy
        assert "waypoint_worker_heartbeat_age_seconds" in Client(base).get("/metrics", scrape)
    finally:
        for proc in [web, *workers]:
            proc.send_signal(signal.SIGTERM)
        for proc in [web, *workers]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if web.stderr:
            web.stderr.close()
