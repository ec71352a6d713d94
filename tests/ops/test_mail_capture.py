"""`make run`'s mail in development: the real `waypoint mail-sink` and `waypoint worker --once` (as
`make run` starts them, defaults only, from a project-like working directory) deliver over SMTP into
the capture folder, and admins read the email on /admin/mail; others get 403, production 404.
`waypoint seed-demo` prints each demo person's language."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from engine import Settings
from engine.mail.capture import captured
from tests.web.conftest import Browser
from tests.web.test_default_configuration import default_app  # noqa: F401  (the fixture)

WAYPOINT = str(Path(sys.executable).with_name("waypoint"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOINT_")}
    return {**env, **extra}


def test_make_run_mail_is_captured_and_shown_to_admins(default_app, tmp_path):  # noqa: F811
    db, engine = default_app.extensions["waypoint.db"], default_app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.start(s, "small_approval", {"title": "Captured mail", "amount": 5}, "jdoe")
    port = free_port()
    sink = subprocess.Popen(
        [WAYPOINT, "mail-sink", "--port", str(port)], cwd=tmp_path, env=clean_env(), stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, sink)
        worker = subprocess.run(
            [WAYPOINT, "worker", "--once"],
            cwd=tmp_path,
            env=clean_env(WAYPOINT_SMTP_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr
        folder = Settings.from_env({}).mail_capture_dir
        assert folder == tmp_path / "instance" / "captured-mail"
        deadline = time.monotonic() + 10
        while not captured(folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        [mail] = [m for m in captured(folder) if "msmith@" in m.recipients]
        assert "Captured mail" in mail.text and "/tasks/" in mail.text
    finally:
        sink.terminate()
        sink.communicate(timeout=10)

    admin = Browser(default_app).login("admin")
    page = admin.get("/admin/mail")
    assert page.status_code == 200 and mail.subject in page.text and "msmith@waypoint.example" in page.text
    assert Browser(default_app).login("jdoe").get("/admin/mail").status_code == 403
    settings = default_app.config["WAYPOINT_SETTINGS"]
    default_app.config["WAYPOINT_SETTINGS"] = replace(settings, environment="production")
    assert admin.get("/admin/mail").status_code == 404


def test_seed_demo_prints_each_persons_language(tmp_path):
    env = clean_env(WAYPOINT_DATABASE_URL=f"sqlite:///{tmp_path}/w.db")
    subprocess.run([WAYPOINT, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    out = subprocess.run([WAYPOINT, "seed-demo"], env=env, check=True, capture_output=True, text=True).stdout
    rmartin = next(line for line in out.splitlines() if line.strip().startswith("rmartin"))
    jdoe = next(line for line in out.splitlines() if line.strip().startswith("jdoe"))
    assert "français" in rmartin and "English" in jdoe
