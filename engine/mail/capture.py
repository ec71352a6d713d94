"""Development mail capture: a local SMTP sink that keeps what the worker sends, for reading in the browser.

`make run` starts `waypoint mail-sink` on 127.0.0.1:1025 and points the worker at it, so a newcomer
reads every email Waypoint sends on /admin/mail (admins, development only) without a mail server.
The sink is a real SMTP server (aiosmtpd) that stores each message in a Maildir (the standard
library's `mailbox`); `captured` reads them back, newest first.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

#: A message larger than this is refused by the sink (the outbox never sends anything near it).
MAX_CAPTURED = 10 * 1024 * 1024


@dataclass(frozen=True)
class CapturedMail:
    """One email the sink received, as the mail page shows it."""

    key: str
    sender: str
    recipients: str
    subject: str
    date: str
    text: str
    attachments: tuple[str, ...]


class _Sink:
    def __init__(self, folder: Path):
        self.box = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(message)
        return "250 Message captured"


def serve(folder: Path, host: str, port: int) -> Any:
    """Start the sink on `host:port` in a background thread; returns the aiosmtpd Controller."""
    from aiosmtpd.controller import Controller

    controller = Controller(_Sink(folder), hostname=host, port=port, data_size_limit=MAX_CAPTURED)
    controller.start()
    return controller


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain", "html"))
    return body.get_content() if body is not None else ""


def captured(folder: Path, limit: int = 100) -> list[CapturedMail]:
    """The last `limit` captured emails, newest first (none when the sink never ran)."""
    if not folder.is_dir():
        return []
    box = mailbox.Maildir(folder, factory=None, create=False)
    found = []
    for key, raw in box.iteritems():
        message = BytesParser(policy=policy.default).parsebytes(raw.as_bytes())
        assert isinstance(message, EmailMessage)
        found.append(
            CapturedMail(
                key=key,
                sender=str(message["From"] or ""),
                recipients=str(message["X-Envelope-To"] or message["To"] or ""),
                subject=str(message["Subject"] or ""),
                date=str(message["Date"] or ""),
                text=_text_of(message),
                attachments=tuple(p.get_filename() or p.get_content_type() for p in message.iter_attachments()),
            )
        )
    found.sort(key=lambda m: (_delivered(folder, m.key), m.key), reverse=True)
    return found[:limit]


def _delivered(folder: Path, key: str) -> float:
    """When the sink stored message `key` (its file's time)."""
    for sub in ("new", "cur"):
        for path in (folder / sub).glob(f"{key}*"):
            return path.stat().st_mtime
    return 0.0
