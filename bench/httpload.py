"""HTTP for the benchmark: a real `waypoint serve` on a loopback port, and a small keep-alive load generator.

The same `Client` interface drives the real server (http.client, one keep-alive connection per
thread) and Flask's test client (in process, no socket), so both paths send identical requests:
the REST API with a bearer token, or the web form with the session cookie and CSRF token that a
browser gets by signing in.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .common import CACHE, ROOT, peak_rss_mb

SECRET = "bench-secret-key-not-for-production"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "waypoint_session"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float
    cookies: list[str]

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive connection to the real server."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
                continue
            ms = (time.perf_counter() - t0) * 1000
            cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, ms, cookies)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class InProcess:
    """Flask's test client behind the same interface (no cookie jar: cookies are sent explicitly)."""

    def __init__(self, app: Any):
        self.client = app.test_client(use_cookies=False)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        t0 = time.perf_counter()
        response = self.client.open(path, method=method, data=body, headers=headers or {})
        data = response.get_data()
        ms = (time.perf_counter() - t0) * 1000
        return Reply(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            data,
            ms,
            response.headers.getlist("Set-Cookie"),
        )

    def close(self) -> None:
        pass


# --- signing in -----------------------------------------------------------------------------------
def _session_cookie(reply: Reply) -> str | None:
    for header in reply.cookies:
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return f"{COOKIE}={rest.split(';', 1)[0]}"
    return None


@dataclass
class WebSession:
    """A signed-in browser: its session cookie and CSRF token."""

    cookie: str
    csrf: str

    def headers(self, form: bool = False) -> dict[str, str]:
        out = {"Cookie": self.cookie}
        if form:
            out["Content-Type"] = "application/x-www-form-urlencoded"
        return out

    def form(self, fields: list[tuple[str, str]]) -> bytes:
        return urlencode([*fields, ("csrf_token", self.csrf)]).encode()


def sign_in(client: Client | InProcess, username: str, password: str) -> WebSession:
    """Sign in through the login form; the cookie and CSRF token are then reused for every request."""
    page = client.request("GET", "/login")
    cookie = _session_cookie(page) or ""
    token = CSRF_RE.search(page.body.decode()).group(1)
    body = urlencode({"username": username, "password": password, "csrf_token": token, "next": "/"}).encode()
    reply = client.request(
        "POST", "/login", body, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    )
    if reply.status != 302:
        raise RuntimeError(f"sign-in of {username} failed: {reply.status}")
    cookie = _session_cookie(reply) or cookie
    page = client.request("GET", "/requests/new", headers={"Cookie": cookie})
    match = CSRF_RE.search(page.body.decode())
    if page.status != 200 or match is None:
        raise RuntimeError(f"no CSRF token after sign-in of {username} ({page.status})")
    return WebSession(cookie, match.group(1))


def api_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# --- the real server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn() -> bool:
    import importlib.util

    return importlib.util.find_spec("gunicorn") is not None


class Server:
    """The production server on a free loopback port against one database: gunicorn with WEB_WORKERS sync
    workers as README documents it (`waypoint serve`, Werkzeug threaded, when gunicorn is not installed)."""

    WEB_WORKERS = 2

    def __init__(self, database_url: str, name: str):
        import sys

        self.port = free_port()
        self.log = CACHE / f"server-{name}.log"
        CACHE.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "WAYPOINT_DATABASE_URL": database_url,
            "WAYPOINT_SECRET_KEY": SECRET,
            "WAYPOINT_ENV": "production",
            "WAYPOINT_HTTPS": "1",  # production behind the TLS proxy README recommends (cookies sent by hand here)
            "PYTHONPATH": str(ROOT),
        }
        if _gunicorn():
            self.kind = f"gunicorn, {self.WEB_WORKERS} sync workers"
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(self.WEB_WORKERS),
                "-b",
                f"127.0.0.1:{self.port}",
                "web:create_app()",
            ]
        else:
            self.kind = "waypoint serve (Werkzeug, threaded)"
            command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: see {self.log}")
            try:
                client = Client(self.port)
                if client.request("GET", "/healthz").status == 200:
                    client.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer in {timeout} s: see {self.log}")

    def client(self) -> Client:
        return Client(self.port)

    def pids(self) -> list[int]:
        """The processes that serve requests: gunicorn's workers (not its master), or the one server."""
        try:
            text_ = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            children = [int(p) for p in text_.split()]
        except OSError:
            children = []
        return children or [self.process.pid]

    def peak_rss_mb(self) -> float | None:
        """The largest peak RSS among the processes serving requests."""
        return max(filter(None, (peak_rss_mb(pid) for pid in self.pids())), default=None)

    def stop(self) -> float | None:
        """Stop the server; its peak RSS (read just before)."""
        peak = self.peak_rss_mb()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
        return peak


def load(clients: list[Client | InProcess], jobs: list[tuple[str, str, bytes | None, dict]]) -> list[Reply]:
    """Send `jobs` (method, path, body, headers) over len(clients) threads, one keep-alive connection each."""
    replies: list[Reply | None] = [None] * len(jobs)
    cursor = iter(range(len(jobs)))
    lock = threading.Lock()

    def run(client: Client | InProcess) -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            method, path, body, headers = jobs[index]
            replies[index] = client.request(method, path, body, headers)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in replies if r is not None]
