"""Entry points for worker processes started by the tests (multiprocessing): importable top-level functions."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from engine import Database, Engine, ManualClock
from engine.config import SmtpSettings
from engine.mail.compose import MailConfig
from engine.worker.loop import Worker, WorkerSettings
from tests.conftest import make_engine


def _worker(url: str, now: str, owner: str, smtp_port: int, batch: int) -> Worker:
    engine = make_engine(
        clock=ManualClock(datetime.fromisoformat(now)),
        mail=MailConfig(base_url="http://waypoint.test", secret_key="scheduler-test-secret"),
    )
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_port, sender="waypoint@waypoint.test", timeout=5)
    return Worker(
        Database(url), engine, smtp=smtp, owner=owner, settings=WorkerSettings(batch=batch, email_batch=batch)
    )


def drain(url: str, now: str, owner: str, smtp_port: int, batch: int, start_at: float, report: str) -> None:
    """Wait for the common start moment, tick until nothing is left, write how many timers we fired."""
    worker = _worker(url, now, owner, smtp_port, batch)
    time.sleep(max(0.0, start_at - time.time()))
    fired = worker.drain().fired
    worker.db.dispose()
    Path(report).write_text(str(fired))


def hang_while_firing(url: str, now: str, owner: str, smtp_port: int, marker: str) -> None:
    """Claim due BPMN timers, then stop for good in the middle of firing the first (the test kills us)."""
    worker = _worker(url, now, owner, smtp_port, batch=50)
    original = Engine.fire_timer

    def fire_then_hang(self: Engine, session, timer_id: int) -> bool:  # type: ignore[no-untyped-def]
        result = original(self, session, timer_id)
        session.flush()  # the timer's effects are written, uncommitted, and locks are held
        Path(marker).write_text(str(timer_id))
        time.sleep(120)
        return result

    Engine.fire_timer = fire_then_hang  # type: ignore[method-assign]
    worker.run_timers()
