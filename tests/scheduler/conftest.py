"""Scheduler fixtures: a real SMTP server (aiosmtpd, random port), mail settings, test processes, workers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine.config import SmtpSettings
from engine.mail.compose import MailConfig
from engine.models import OutboxMessage, TaskRecord
from engine.worker.loop import Worker, WorkerSettings

FLOWS = Path(__file__).parent / "fixtures" / "flows"
SECRET = "scheduler-test-secret"
BASE_URL = "http://waypoint.test"
REPLY_DOMAIN = "reply.waypoint.test"
SENDER = "waypoint@waypoint.test"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives; it can refuse (4xx/5xx) on demand."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse: list[str] = []  # answers to give to the next DATA commands instead of 250
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [m for _, m in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_config(engine) -> MailConfig:
    config = MailConfig(
        base_url=BASE_URL, secret_key=SECRET, timezone="America/Toronto", sender=SENDER, reply_domain=REPLY_DOMAIN
    )
    engine.mail.config = config
    return config


@pytest.fixture
def flows(people, engine, mail_config):
    """The demo people plus the test processes (reminder_demo, timer_race, failing_timer) and small_approval."""
    from tests.conftest import FIXTURES

    with people.transaction() as s:
        engine.deploy(s, [FLOWS])
        engine.deploy(s, [FIXTURES / "small"])
    return people


def smtp_settings(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5)


@pytest.fixture
def make_worker(flows, engine, smtp) -> Callable[..., Worker]:
    """`make_worker(owner=..., port=...)`: a worker on the test database sending to the test SMTP server."""

    def make(owner: str | None = None, port: int | None = None, **settings: Any) -> Worker:
        return Worker(
            flows,
            engine,
            smtp=smtp_settings(port or smtp.port),
            owner=owner,
            settings=WorkerSettings(**settings),
        )

    return make


def start(db, engine, key: str = "reminder_demo", user: str = "jdoe", **data: Any) -> int:
    with db.transaction() as s:
        return engine.start(s, key, {"title": "Interpol assembly", **data}, user).id


def open_task(db, instance_id: int) -> TaskRecord:
    with db.reading() as s:
        [row] = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready"))
        _ = (row.assignee, row.claimed_by)
        return row


def outbox_rows(db, kind: str | None = None, **where: Any) -> list[OutboxMessage]:
    with db.reading() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(s.scalars(query))
