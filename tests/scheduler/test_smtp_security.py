"""SMTP with STARTTLS, implicit TLS and login, against a real aiosmtpd server with a self-signed certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from engine.config import SmtpSettings
from engine.mail.outbox import OutboxSender
from engine.worker.incidents import count_failure
from tests.scheduler.conftest import SmtpSink, free_port, outbox_rows
from tests.scheduler.test_outbox import queue

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted by this test's default SSL contexts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


class Logins:
    """Remembers the credentials the server saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        self.seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)


def serve(sink: SmtpSink, certificate: tuple[Path, Path], logins: Logins, *, implicit: bool) -> Controller:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    options: dict[str, Any] = {"authenticator": logins, "auth_require_tls": True}
    if implicit:  # aiosmtpd offers AUTH "over TLS" only after STARTTLS; this connection is TLS from the start
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **options)
    controller.start()
    return controller


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "ssl"])
def test_secure_login_and_delivery(flows, clock, certificate, implicit):
    db = flows
    queue(db, clock, 2)
    sink, logins = SmtpSink(free_port()), Logins()
    controller = serve(sink, certificate, logins, implicit=implicit)
    try:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=sink.port,
            username="waypoint",
            password="s3cret",
            starttls=not implicit,
            ssl=implicit,
            sender="waypoint@waypoint.test",
            timeout=10,
        )
        report = OutboxSender(db, clock, settings, "tls-worker", count_failure=count_failure).deliver_once()
        assert report.sent == 2 and logins.seen == [(b"waypoint", b"s3cret")]
        assert sorted(str(m["Subject"]) for m in sink.messages) == ["message 0", "message 1"]
        assert {r.status for r in outbox_rows(db)} == {"sent"}
    finally:
        controller.stop()
